import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type Plan } from '../protocol/plan.ts';
import { formatBytes, formatCount, formatGiB, formatInteger, formatSize } from './format.ts';


/**
 * A Plan drawn as text and tables: parameters, the peak and its phase, bytes per category,
 * the textbook rule of thumb, overheads, which GPUs it fits, and every term with its formula
 * and source.
 *
 * @csspart peak - the peak line
 * @csspart categories - the per-category table
 * @csspart fits - the GPU fit list
 * @csspart terms - the formula table
 */
@customElement('vl-plan-breakdown')
export class VlPlanBreakdown extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    /* Tables scroll inside their own box on a narrow screen, never the page. */
    .scroll {
      overflow-x: auto;
    }
    :host([stale]) {
      opacity: 0.5;
    }
    h2 {
      font-size: 1.1rem;
      margin: 0 0 0.25rem;
    }
    h3 {
      font-size: 0.95rem;
      margin: 1.25rem 0 0.4rem;
    }
    .peak {
      font-size: 1.6rem;
      font-weight: 650;
      margin: 0.25rem 0;
    }
    .muted {
      color: var(--vl-muted, #666);
    }
    .peak .where {
      display: block;
      font-size: 0.9rem;
      font-weight: 400;
    }
    table {
      border-collapse: collapse;
      width: 100%;
      font-size: 0.85rem;
    }
    th,
    td {
      text-align: left;
      padding: 0.2rem 0.5rem;
      border-bottom: 1px solid var(--vl-border, #ddd);
      vertical-align: top;
    }
    td.num,
    th.num {
      text-align: right;
      font-variant-numeric: tabular-nums;
      white-space: nowrap;
    }
    code {
      font-family: ui-monospace, monospace;
      font-size: 0.8rem;
      overflow-wrap: anywhere;
    }
    .terms .formula,
    .terms .source {
      display: block;
      margin-top: 0.15rem;
    }
    .terms .source {
      font-size: 0.8rem;
    }
    ul.fits {
      list-style: none;
      padding: 0;
      margin: 0;
      columns: 2 16rem;
      font-size: 0.85rem;
    }
    .yes {
      color: var(--vl-ok, #1a7f37);
    }
    .no {
      color: var(--vl-error, #b00020);
    }
    .sr-only {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip-path: inset(50%);
      white-space: nowrap;
    }
  `;

  @property({ attribute: false }) plan: Plan | null = null;
  /** Set while the form holds an invalid config: this plan is for the last valid one. */
  @property({ type: Boolean, reflect: true }) stale = false;

  override render() {
    const p = this.plan;
    if (!p) return html`<p class="muted">No plan yet.</p>`;
    return html`
      <section data-testid="plan-breakdown">
        <h2 data-testid="plan-model">${p.model.name}</h2>
        <p class="muted" data-testid="plan-params">
          ${formatCount(p.params)} parameters (${formatInteger(p.params)})${p.model.activeParams === undefined
            ? nothing
            : html`, ${formatCount(p.model.activeParams)} active per token (all resident)`}${p.trainableParams !== p.params
            ? html`, ${formatCount(p.trainableParams)} trainable`
            : nothing}
        </p>
        <p part="peak" class="peak" data-testid="peak-bytes" data-bytes=${p.peak.bytes}>
          ${formatSize(p.peak.bytes)} peak
          <span class="muted where">in ${p.peak.phase}, at ${p.peak.at}</span>
        </p>
        <p data-testid="total-bytes">
          ${formatSize(p.totalBytes)} in total with overheads (what nvidia-smi would show)
        </p>

        <h3>Bytes per category</h3>
        <div class="scroll">
        <table part="categories" data-testid="category-table">
          <thead>
            <tr>
              <th scope="col">category</th>
              <th scope="col" class="num">most held</th>
              <th scope="col" class="num">size</th>
              <th scope="col" class="num">alive at peak</th>
            </tr>
          </thead>
          <tbody>
            ${PLAN_CATEGORIES.filter((c) => p.bytes[c] > 0 || p.peak.alive[c] > 0).map(
              (c) => html`<tr data-category=${c}>
                <th scope="row">${CATEGORY_LABELS[c]}</th>
                <td class="num">${formatInteger(p.bytes[c])} B</td>
                <td class="num">${formatSize(p.bytes[c])}</td>
                <td class="num">${formatSize(p.peak.alive[c])}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        </div>

        <h3>Rule of thumb</h3>
        <p data-testid="textbook">
          ${formatSize(p.textbook.bytes)} by the textbook: <code>${p.textbook.formula}</code>
        </p>

        <h3>Overheads outside the peak</h3>
        <ul data-testid="overhead">
          <li>CUDA context: ${formatBytes(p.overhead.cudaContextBytes)}</li>
          <li>caching allocator (rounding, fragmentation): ${formatBytes(p.overhead.allocatorBytes)}</li>
        </ul>

        <h3>Fits on</h3>
        <ul part="fits" class="fits" data-testid="fit-list">
          ${p.fits.map(
            (f) => html`<li data-fits=${f.fits ? 'yes' : 'no'}>
              <span class=${f.fits ? 'yes' : 'no'} aria-hidden="true">${f.fits ? '✓' : '✗'}</span>
              <span class="sr-only">${f.fits ? 'fits' : 'does not fit'}</span>
              ${f.gpu}
              <span class="muted">(${f.fits ? `${formatGiB(f.headroomBytes)} free` : `${formatGiB(-f.headroomBytes)} short`})</span>
            </li>`,
          )}
        </ul>

        <h3>Where the bytes come from</h3>
        <div class="scroll">
        <table part="terms" class="terms" data-testid="terms">
          <thead>
            <tr>
              <th scope="col">term, formula and source</th>
              <th scope="col" class="num">bytes</th>
            </tr>
          </thead>
          <tbody>
            ${p.terms.map(
              (t) => html`<tr>
                <td>
                  <strong>${t.label}</strong> <span class="muted">(${CATEGORY_LABELS[t.category]})</span>
                  <code class="formula">${t.formula}</code>
                  <span class="source muted">${t.source}</span>
                </td>
                <td class="num">${formatBytes(t.bytes)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        </div>

        ${p.notes.length > 0
          ? html`<h3>Notes</h3>
              <ul data-testid="notes">
                ${p.notes.map((n) => html`<li>${n}</li>`)}
              </ul>`
          : nothing}
      </section>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-plan-breakdown': VlPlanBreakdown;
  }
}
