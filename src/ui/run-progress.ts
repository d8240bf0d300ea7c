import { LitElement, css, html, type ReactiveController, type ReactiveControllerHost } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { styleMap } from 'lit/directives/style-map.js';
import { formatDuration } from './device-speed.ts';
import { buttonStyles } from './export-styles.ts';

/** Re-renders its host every `ms` while connected (for a countdown). */
class TickController implements ReactiveController {
  private timer: ReturnType<typeof setInterval> | undefined;
  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly ms: number,
  ) {
    host.addController(this);
  }
  hostConnected(): void {
    this.timer = setInterval(() => this.host.requestUpdate(), this.ms);
  }
  hostDisconnected(): void {
    clearInterval(this.timer);
  }
}

/**
 * A progress bar for runs on the engine: how far (weighted by each run's predicted time), what
 * is running now, the time left (refreshed every second), and Cancel.
 *
 * @fires vl-cancel - the Cancel button was pressed
 * @csspart bar - the progress bar
 */
@customElement('vl-run-progress')
export class VlRunProgress extends LitElement {
  static override styles = [
    buttonStyles,
    css`
    :host {
      display: block;
      margin: 0.5rem 0;
    }
    .row {
      display: flex;
      gap: 0.75rem;
      align-items: center;
    }
    .bar {
      flex: 1 1 auto;
      height: 0.7rem;
      border-radius: 4px;
      background: var(--vl-border, #ddd);
      overflow: hidden;
    }
    .bar > div {
      height: 100%;
      background: var(--vl-accent, #0b57d0);
      transition: width 0.2s;
    }
    p {
      margin: 0.25rem 0 0;
      font-size: 0.85rem;
      color: var(--vl-muted, #666);
      overflow-wrap: anywhere;
    }
  `,
  ];

  /** What the bar measures, for its accessible name: "lesson runs". */
  @property() label = 'runs';
  /** What runs now: "run 2 of 4, selective: step 2/3". */
  @property() detail = '';
  /** 0..1. */
  @property({ type: Number }) fraction = 0;
  /** Time left, ms; read again every second. */
  @property({ attribute: false }) remaining: () => number = () => 0;
  @property({ type: Boolean }) cancelling = false;

  private readonly tick = new TickController(this, 1000);

  override render() {
    const pct = Math.round(100 * Math.min(1, Math.max(0, this.fraction)));
    const left = this.remaining();
    const text = `${this.detail}${this.detail ? ' — ' : ''}${pct}%, ${left > 0 ? `${formatDuration(left)} left` : 'finishing'}`;
    void this.tick;
    return html`<div class="row">
        <div part="bar" class="bar" role="progressbar" aria-label=${this.label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} aria-valuetext=${text}>
          <div style=${styleMap({ width: `${pct}%` })}></div>
        </div>
        <button type="button" data-testid="progress-cancel" ?disabled=${this.cancelling} @click=${this.handleCancel}>${this.cancelling ? 'Cancelling…' : 'Cancel'}</button>
      </div>
      <p data-testid="progress-text">${text}</p>`;
  }

  private handleCancel(): void {
    this.dispatchEvent(new CustomEvent('vl-cancel', { bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-run-progress': VlRunProgress;
  }
}
