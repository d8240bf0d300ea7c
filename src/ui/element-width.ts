import type { ReactiveController, ReactiveControllerHost } from 'lit';

/**
 * The host element's content width in CSS pixels, kept current with a ResizeObserver, so a
 * chart can size its SVG in real pixels: text then keeps its font size at any width instead
 * of shrinking with a viewBox.
 */
export class ElementWidthController implements ReactiveController {
  width: number;
  private observer: ResizeObserver | null = null;

  constructor(
    private readonly host: ReactiveControllerHost & HTMLElement,
    fallback = 640,
  ) {
    this.width = fallback;
    host.addController(this);
  }

  hostConnected(): void {
    this.observer = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (w > 0 && w !== this.width) {
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
