import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { describeCost, makeItFit, type FitResult, type LargestFit, type PlanPatch } from '../estimate/fit.ts';
import type { PlanConfig } from '../protocol/config.ts';
import { fitToCsv } from '../protocol/csv.ts';
import { downloadBlob, fileSafe, fileStamp } from './download.ts';
import { formatInteger, formatSize } from './format.ts';

/** Fired with the fields to change; the host applies `{ ...plan, ...detail.patch }`. */
export const PLAN_PATCH_EVENT = 'vl-plan-patch';

export interface PlanPatchDetail {
  patch: PlanPatch;
  /** What the patch does, e.g. "checkpoint full" or "batch 12". */
  change: string;
}

/**
 * "Make it fit": for a plan configuration and a GPU capacity, the verdict (fits, with the
 * headroom, or the shortfall), the changes that fit cheapest first with their new total and cost,
 * each with an Apply button, and the largest batch and sequence that fit. It runs the planner's
 * `makeItFit` itself whenever `plan` or `capacityBytes` change.
 *
 * @fires vl-plan-patch - Apply was pressed; detail `{ patch, change }` (PlanPatchDetail)
 * @csspart verdict - the fits / does not fit line
 * @csspart list - the list of suggestions
 * @csspart apply - every Apply button
 * @csspart csv - the "Save CSV" button (the same CSV as `vramlab fit --format csv`)
 */
@customElement('vl-fit-suggestions')
export class VlFitSuggestions extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    h3 {
      font-size: 0.95rem;
      margin: 0 0 0.4rem;
    }
    p {
      margin: 0.25rem 0;
      overflow-wrap: anywhere;
    }
    .verdict {
      font-weight: 650;
    }
    .yes {
      color: var(--vl-ok, #1a7f37);
    }
    .no {
      color: var(--vl-error, #b00020);
    }
    .muted {
      color: var(--vl-muted, #666);
    }
    ol,
    ul {
      list-style: none;
      padding: 0;
      margin: 0.5rem 0;
    }
    li {
      display: flex;
      flex-wrap: wrap;
      align-items: baseline;
      gap: 0.15rem 0.75rem;
      padding: 0.4rem 0;
      border-bottom: 1px solid var(--vl-border, #ddd);
    }
    .change {
      flex: 1 1 12rem;
      min-width: 0;
      font-weight: 600;
      overflow-wrap: anywhere;
    }
    .act {
      display: flex;
      flex-wrap: wrap;
      align-items: baseline;
      justify-content: flex-end;
      gap: 0.15rem 0.5rem;
      margin-left: auto;
    }
    .numbers {
      font-variant-numeric: tabular-nums;
    }
    .note {
      flex-basis: 100%;
      font-size: 0.8rem;
      overflow-wrap: anywhere;
    }
    button {
      font: inherit;
      font-size: 0.85rem;
      padding: 0.1rem 0.6rem;
      border: 1px solid var(--vl-border, #bbb);
      border-radius: 4px;
      background: transparent;
      color: inherit;
      cursor: pointer;
    }
    button:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
  `;

  /** The configuration to fit (the form's current one). */
  @property({ attribute: false }) plan: PlanConfig | null = null;
  /** The GPU to fit in, bytes (e.g. a catalog GPU's memoryBytes, or GiB × 2^30). */
  @property({ attribute: false }) capacityBytes = 0;

  @state() private result: FitResult | null = null;
  @state() private error = '';

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (!changed.has('plan') && !changed.has('capacityBytes')) return;
    this.result = null;
    this.error = '';
    if (!this.plan || !(this.capacityBytes > 0)) return;
    try {
      this.result = makeItFit(this.plan, this.capacityBytes);
    } catch (err) {
      // A configuration the planner refuses: the form names the field; say it here too.
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  override render() {
    if (this.error) return html`<p class="no" data-testid="fit-error">${this.error}</p>`;
    const r = this.result;
    if (!r) return html`<p class="muted">Choose a GPU size to see what fits.</p>`;
    const c = r.current;
    const verdict = c.fits
      ? `Fits: ${formatSize(c.totalBytes)} needed, ${formatSize(c.headroomBytes)} to spare.`
      : `Does not fit: ${formatSize(c.totalBytes)} needed, ${formatSize(-c.headroomBytes)} short.`;
    return html`
      <section data-testid="fit-suggestions" aria-live="polite">
        <h3>Make it fit in ${formatSize(r.capacityBytes)}</h3>
        <p part="verdict" class="verdict ${c.fits ? 'yes' : 'no'}" data-testid="fit-verdict" data-fits=${String(c.fits)}>${verdict}</p>
        ${c.fits ? nothing : html`<p class="muted" data-testid="fit-message">${r.message}</p>`}
        ${r.suggestions.length > 0
          ? html`<ol part="list" data-testid="fit-list" aria-label=${r.combined ? 'Combinations that fit, cheapest first' : 'Changes that fit, cheapest first'}>
              ${r.suggestions.map(
                (s) => html`<li data-testid="fit-suggestion" data-total-bytes=${s.totalBytes}>
                  <span class="change">${s.change}</span>
                  <span class="act">
                    <span class="numbers">${formatSize(s.totalBytes)} · ${describeCost(s.cost)}</span>
                    <button part="apply" type="button" aria-label=${`Apply ${s.change}`} @click=${() => this.handleApply(s.patch, s.change)}>Apply</button>
                  </span>
                  <span class="note muted">${s.cost.note}</span>
                </li>`,
              )}
            </ol>`
          : nothing}
        <button part="csv" type="button" data-testid="fit-csv" @click=${this.handleSaveCsv}>Save CSV</button>
        <ul>
          ${this.largestItem(this.plan!.microBatch !== undefined && this.plan!.microBatch !== this.plan!.batch ? 'micro-batch' : 'batch', r.largestBatch)} ${r.largestSeq === undefined ? nothing : this.largestItem('seq', r.largestSeq)}
        </ul>
      </section>
    `;
  }

  private largestItem(what: 'batch' | 'micro-batch' | 'seq', l: LargestFit | null) {
    const id = `fit-largest-${what === 'seq' ? 'seq' : 'batch'}`;
    if (l === null) return html`<li data-testid=${id}><span class="change">Largest ${what} that fits: none, even 1 does not.</span></li>`;
    const change = `${what} ${l.value}`;
    return html`<li data-testid=${id} data-value=${l.value}>
      <span class="change">Largest ${what} that fits: ${formatInteger(l.value)}${l.atLimit ? ' (the upper bound searched)' : ''}</span>
      <span class="act">
        <span class="numbers">${formatSize(l.totalBytes)}</span>
        <button part="apply" type="button" aria-label=${`Apply the largest ${what}, ${l.value}`} @click=${() => this.handleApply(l.patch, change)}>Apply</button>
      </span>
    </li>`;
  }

  private handleSaveCsv(): void {
    if (!this.result || !this.plan) return;
    const gib = Math.round((this.result.capacityBytes / 2 ** 30) * 100) / 100;
    const name = `vramlab-fit-${fileSafe(this.plan.model)}-${fileSafe(`${gib}gib`)}-${fileStamp()}.csv`;
    downloadBlob(new Blob([fitToCsv(this.result)], { type: 'text/csv' }), name, this.renderRoot);
  }

  private handleApply(patch: PlanPatch, change: string): void {
    this.dispatchEvent(new CustomEvent<PlanPatchDetail>(PLAN_PATCH_EVENT, { detail: { patch, change }, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-fit-suggestions': VlFitSuggestions;
  }
  interface HTMLElementEventMap {
    'vl-plan-patch': CustomEvent<PlanPatchDetail>;
  }
}
