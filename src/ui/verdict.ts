import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { ChosenGpu } from '../estimate/gpus.ts';
import type { Plan } from '../protocol/plan.ts';
import { formatBytes, formatGiB, formatSize } from './format.ts';

/**
 * The answer in one line: "Fits on <GPU> — <headroom> free" or "Does not fit on <GPU> —
 * <shortfall> short", for the chosen card, from the same total the fit list uses (peak +
 * CUDA context + allocator overhead, `plan.totalBytes`), then how that total is made.
 *
 * @csspart verdict - the answer line
 */
@customElement('vl-verdict')
export class VlVerdict extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    :host([stale]) {
      opacity: 0.5;
    }
    p {
      margin: 0;
    }
    .verdict {
      font-size: clamp(1.25rem, 1rem + 1.2vw, 1.7rem);
      font-weight: 700;
      line-height: 1.2;
      overflow-wrap: anywhere;
    }
    .verdict[data-fits='yes'] .mark {
      color: var(--vl-ok, #1a7f37);
    }
    .verdict[data-fits='no'] .mark {
      color: var(--vl-error, #b00020);
    }
    .how {
      color: var(--vl-muted, #5f5f6b);
      margin-top: 0.2rem;
      font-size: 0.95rem;
    }
  `;

  @property({ attribute: false }) plan: Plan | null = null;
  @property({ attribute: false }) gpu: ChosenGpu | null = null;
  /** The plan is from an earlier, valid form state. */
  @property({ type: Boolean, reflect: true }) stale = false;

  override render() {
    const p = this.plan;
    const g = this.gpu;
    if (!p || !g) return nothing;
    const headroom = g.memoryBytes - p.totalBytes;
    const fits = headroom >= 0;
    const overhead = p.overhead.cudaContextBytes + p.overhead.allocatorBytes;
    return html`
      <p part="verdict" class="verdict" data-testid="verdict" data-fits=${fits ? 'yes' : 'no'} data-headroom=${headroom} aria-live="polite">
        <span class="mark" aria-hidden="true">${fits ? '✓' : '✗'}</span>
        ${fits ? `Fits on ${g.name} — ${formatGiB(headroom)} free` : `Does not fit on ${g.name} — ${formatGiB(-headroom)} short`}
      </p>
      <p class="how" data-testid="verdict-how">
        ${formatSize(p.totalBytes)} needed: ${formatSize(p.peak.bytes)} peak (${p.peak.phase}) + ${formatBytes(overhead)} CUDA context and allocator, of
        ${formatSize(g.memoryBytes)} usable.
      </p>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-verdict': VlVerdict;
  }
}
