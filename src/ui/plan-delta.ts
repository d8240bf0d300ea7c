import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type Plan } from '../protocol/plan.ts';
import { formatSize } from './format.ts';

/** "+1.2 GiB", "−300 MiB", "0 B": a signed size, with a true minus sign. */
export function formatDelta(bytes: number): string {
  if (bytes === 0) return '0 B';
  return `${bytes > 0 ? '+' : '−'}${formatSize(Math.abs(bytes))}`;
}

/**
 * Before and after: per category, what the pinned plan holds at its peak, what the current
 * plan holds, and the change; then the same for the total with overheads. Categories that
 * are zero in both are left out.
 *
 * @csspart table - the table
 */
@customElement('vl-plan-delta')
export class VlPlanDelta extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
      overflow-x: auto;
    }
    table {
      border-collapse: collapse;
      font-size: 0.85rem;
      width: 100%;
    }
    caption {
      text-align: left;
      font-weight: 600;
      padding-bottom: 0.25rem;
    }
    th,
    td {
      padding: 0.15rem 0.25rem;
      border-bottom: 1px solid var(--vl-border, #ddd);
      text-align: left;
    }
    .num {
      text-align: right;
      font-variant-numeric: tabular-nums;
      white-space: nowrap;
    }
    .less {
      color: var(--vl-ok, #1a7f37);
    }
    .more {
      color: var(--vl-error, #b00020);
    }
    tfoot th,
    tfoot td {
      font-weight: 650;
    }
  `;

  @property({ attribute: false }) pinned: Plan | null = null;
  @property({ attribute: false }) plan: Plan | null = null;

  override render() {
    const a = this.pinned;
    const b = this.plan;
    if (!a || !b) return nothing;
    const rows = PLAN_CATEGORIES.filter((c) => a.peak.alive[c] > 0 || b.peak.alive[c] > 0);
    return html`<table part="table" data-testid="plan-delta">
      <caption>
        Pinned → now, alive at the peak
      </caption>
      <thead>
        <tr>
          <th scope="col">category</th>
          <th scope="col" class="num">pinned</th>
          <th scope="col" class="num">now</th>
          <th scope="col" class="num">change</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((c) => this.row(c, CATEGORY_LABELS[c], a.peak.alive[c], b.peak.alive[c]))}
      </tbody>
      <tfoot>
        ${this.row('total', 'total with overheads', a.totalBytes, b.totalBytes)}
      </tfoot>
    </table>`;
  }

  private row(key: string, label: string, before: number, after: number) {
    const d = after - before;
    return html`<tr data-category=${key}>
      <th scope="row">${label}</th>
      <td class="num">${formatSize(before)}</td>
      <td class="num">${formatSize(after)}</td>
      <td class="num ${d < 0 ? 'less' : d > 0 ? 'more' : ''}" data-testid=${`delta-${key}`} data-bytes=${d}>${formatDelta(d)}</td>
    </tr>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-plan-delta': VlPlanDelta;
  }
}
