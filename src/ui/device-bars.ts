import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type Plan } from '../protocol/plan.ts';
import { categoryPalette } from './chart-styles.ts';
import { formatSize } from './format.ts';

/**
 * Per-device bars for a plan split over many GPUs: one bar per pipeline stage (each standing
 * for its tensor-, context- and data-parallel peers), worst first, stacked by category and
 * drawn to one scale with the chosen card's memory as a line; then the host's bytes per node
 * against its budget. Nothing when the plan is one GPU's with nothing on the host.
 *
 * @csspart devices - the list of device bars
 */
@customElement('vl-device-bars')
export class VlDeviceBars extends LitElement {
  static override styles = [
    categoryPalette,
    css`
      :host {
        display: block;
        font-size: 0.85rem;
      }
      h3 {
        font-size: 0.95rem;
        margin: 0.6rem 0 0.3rem;
      }
      ol {
        list-style: none;
        margin: 0;
        padding: 0;
        display: grid;
        gap: 0.35rem;
      }
      li {
        display: grid;
        grid-template-columns: minmax(0, 14rem) minmax(0, 1fr);
        gap: 0.15rem 0.6rem;
        align-items: center;
      }
      .track {
        position: relative;
        display: flex;
        height: 1rem;
        background: var(--vl-track, rgb(127 127 127 / 0.12));
        border-radius: 3px;
        overflow: hidden;
      }
      .track span {
        height: 100%;
      }
      .cap {
        position: absolute;
        top: 0;
        bottom: 0;
        width: 2px;
        background: var(--vl-error, #b00020);
      }
      .label {
        overflow-wrap: anywhere;
      }
      .total {
        grid-column: 2;
        color: var(--vl-muted, #555);
        font-size: 0.78rem;
      }
      .host {
        background: var(--vl-accent, #0b57d0);
      }
      @media (max-width: 600px) {
        li {
          grid-template-columns: minmax(0, 1fr);
        }
        .total {
          grid-column: 1;
        }
      }
    `,
  ];

  @property({ attribute: false }) plan: Plan | null = null;
  /** The chosen card's memory, drawn as a line on every bar. */
  @property({ attribute: false }) capacityBytes = 0;

  override render() {
    const p = this.plan;
    if (!p || (!p.devices?.length && !p.host)) return nothing;
    const devices = p.devices ?? [];
    const scale = Math.max(this.capacityBytes, ...devices.map((d) => d.totalBytes), 1);
    const pct = (b: number) => `${((100 * b) / scale).toFixed(2)}%`;
    return html`
      ${devices.length > 0
        ? html`<h3>Per device, worst first <small>(full width: your GPU or the fullest device)</small></h3>
            <ol part="devices" data-testid="device-bars">
              ${devices.map((d) => {
                const overhead = d.totalBytes - d.peakBytes;
                return html`<li data-testid="device-bar">
                  <span class="label">${d.rank} <small>× ${d.gpus} GPU${d.gpus === 1 ? '' : 's'}</small></span>
                  <span class="track" role="img" aria-label=${`${d.rank}: ${formatSize(d.totalBytes)} of ${formatSize(this.capacityBytes)}`}>
                    ${PLAN_CATEGORIES.filter((c) => d.bytes[c] > 0).map(
                      (c) => html`<span style=${`width:${pct(d.bytes[c] * (d.peakBytes / sumOf(d.bytes)))};background:var(--vl-cat-${c})`} title=${`${CATEGORY_LABELS[c]}: ${formatSize(d.bytes[c])}`}></span>`,
                    )}
                    <span style=${`width:${pct(overhead)};background:var(--vl-muted, #888)`} title=${`CUDA context and allocator: ${formatSize(overhead)}`}></span>
                    ${this.capacityBytes > 0 ? html`<span class="cap" style=${`left:${pct(this.capacityBytes)}`}></span>` : nothing}
                  </span>
                  <span class="total">${formatSize(d.totalBytes)}${d.totalBytes > this.capacityBytes && this.capacityBytes > 0 ? ' — over this GPU' : ''}${d.hostBytes > 0 ? `; host ${formatSize(d.hostBytes)} per GPU` : ''}</span>
                </li>`;
              })}
            </ol>`
        : nothing}
      ${p.host ? this.renderHost(p.host) : nothing}
    `;
  }

  private renderHost(h: NonNullable<Plan['host']>) {
    const budget = h.budgetBytes ?? 0;
    const scale = Math.max(budget, h.bytesPerNode, 1);
    return html`<h3>Host memory per node</h3>
      <ol data-testid="host-bar">
        <li>
          <span class="label">${h.gpusPerNode} GPU process${h.gpusPerNode === 1 ? '' : 'es'}</span>
          <span class="track" role="img" aria-label=${`host: ${formatSize(h.bytesPerNode)}${budget ? ` of ${formatSize(budget)}` : ''}`}>
            <span class="host" style=${`width:${((100 * h.bytesPerNode) / scale).toFixed(2)}%`}></span>
          </span>
          <span class="total"
            >${formatSize(h.bytesPerNode)}${budget ? ` of ${formatSize(budget)} — ${h.fits ? 'fits' : 'does not fit'}` : ''}${h.nvmeBytesPerNode > 0 ? `; ${formatSize(h.nvmeBytesPerNode)} on NVMe` : ''}</span
          >
        </li>
      </ol>`;
  }
}

const sumOf = (b: Record<string, number>) => Object.values(b).reduce((a, x) => a + x, 0) || 1;

declare global {
  interface HTMLElementTagNameMap {
    'vl-device-bars': VlDeviceBars;
  }
}
