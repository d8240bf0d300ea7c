import type { ReactiveController, ReactiveControllerHost } from 'lit';

/**
 * The host element's content width in CSS pixels, kept current with a ResizeObserver, so a
 * chart can size its SVG viewBox to the box it is drawn in: one viewBox unit is then one CSS
 * pixel and a 12px label is 12px on a phone as on a desktop. Requests an update when it changes.
 */
export class ResizeController implements ReactiveController {
  /** 0 until the first observation (the host is not laid out yet). */
  width = 0;
  private observer: ResizeObserver | null = null;

  constructor(private readonly host: ReactiveControllerHost & HTMLElement) {
    host.addController(this);
  }

  hostConnected(): void {
    this.observer = new ResizeObserver((entries) => {
      const w = Math.floor(entries[entries.length - 1]!.contentRect.width);
      if (w !== this.width) {
        this.width = w;
        this.host.requestUpdate();
      }
    });
    this.observer.observe(this.host);
  }

  hostDisconnected(): void {
    this.observer?.disconnect();
    this.observer = null;
  }
}
