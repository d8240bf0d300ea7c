import { LitElement, css, html, nothing, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';

const W = 240;
const H = 64;
const PAD = 4;

/** "0.0123", "12.3": four significant digits, enough to see a loss move. */
export function formatLoss(v: number): string {
  return Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v);
}

/**
 * A training loss per step as a small line (a sparkline): no axes, the first and last values
 * in its accessible name. Non-finite losses (a diverged or skipped step) are left out of the
 * line, so one NaN does not blank it.
 *
 * @csspart svg - the chart
 */
@customElement('vl-loss-chart')
export class VlLossChart extends LitElement {
  static override styles = css`
    :host {
      display: inline-block;
      width: 15rem;
      max-width: 100%;
    }
    svg {
      display: block;
      width: 100%;
      height: auto;
    }
    polyline {
      fill: none;
      stroke: var(--vl-accent, #0b57d0);
      stroke-width: 1.5;
    }
    .frame {
      fill: none;
      stroke: var(--vl-border, #d0d0d7);
    }
  `;

  /** One loss per step, in order. */
  @property({ attribute: false }) loss: readonly number[] = [];

  override render() {
    const finite = this.loss.map((v, i) => [i, v] as const).filter(([, v]) => Number.isFinite(v));
    if (finite.length === 0) return nothing;
    const vals = finite.map(([, v]) => v);
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    const span = hi - lo || 1;
    const n = this.loss.length;
    const x = (i: number) => PAD + (n === 1 ? (W - 2 * PAD) / 2 : (i / (n - 1)) * (W - 2 * PAD));
    const y = (v: number) => PAD + (1 - (v - lo) / span) * (H - 2 * PAD);
    const first = this.loss[0]!;
    const last = this.loss[n - 1]!;
    const label = `Loss over ${n} step${n === 1 ? '' : 's'}: from ${formatLoss(first)} to ${formatLoss(last)}.`;
    return html`<svg part="svg" viewBox="0 0 ${W} ${H}" role="img" aria-label=${label} data-testid="loss-svg">
      <rect class="frame" x="0.5" y="0.5" width=${W - 1} height=${H - 1}></rect>
      ${svg`<polyline points=${finite.map(([i, v]) => `${x(i).toFixed(2)},${y(v).toFixed(2)}`).join(' ')}></polyline>`}
    </svg>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-loss-chart': VlLossChart;
  }
}
