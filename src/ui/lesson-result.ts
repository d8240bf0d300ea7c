import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import type { PlanCategory } from '../protocol/plan.ts';
import type { CompareRow } from './compare-bars.ts';
import { formatBytes, formatInteger } from './format.ts';
import { countedFlops, describeLessonModel, formatChange, type LessonEffect, type LessonOutcome } from './lesson-plans.ts';
import { estimateRunPytorch } from './run-estimate.ts';
import { stepTimeSummary } from './step-time.ts';
import type { VlCompareBars } from './compare-bars.ts';
import './compare-bars.ts';
import './chart-export-buttons.ts';
import './results-export-buttons.ts';

const gflop = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });

/**
 * What a lesson's runs measured: the claim with its effect in large type, the bytes alive at
 * each run's peak by category (the lesson's category emphasised) with the estimates of the
 * same configuration as ticks, and a table with the taught quantity, the peak, the counted
 * compute of a step (a deterministic count, recompute included) and the measured step time as a
 * median with its range.
 *
 * @csspart effect - the headline effect
 * @csspart table - the table of runs
 */
@customElement('vl-lesson-result')
export class VlLessonResult extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    .effect {
      display: flex;
      gap: 0.9rem;
      align-items: baseline;
      flex-wrap: wrap;
      margin: 0.6rem 0;
    }
    .big {
      font-size: 2.2rem;
      font-weight: 700;
      line-height: 1;
      color: var(--vl-accent, #0b57d0);
      font-variant-numeric: tabular-nums;
    }
    .headline {
      flex: 1 1 18rem;
      margin: 0;
      font-size: 1rem;
    }
    ul.details {
      margin: 0.3rem 0 0.6rem;
      padding-left: 1.2rem;
      font-size: 0.9rem;
    }
    .scroll {
      overflow-x: auto;
      max-width: 100%;
    }
    table {
      border-collapse: collapse;
      font-size: 0.85rem;
      font-variant-numeric: tabular-nums;
      margin-top: 0.6rem;
      width: 100%;
    }
    th,
    td {
      text-align: right;
      padding: 0.2rem 0.5rem;
      border-bottom: 1px solid var(--vl-border, #ddd);
      white-space: nowrap;
    }
    th:first-child,
    td:first-child {
      text-align: left;
    }
    .muted {
      color: var(--vl-muted, #666);
      font-size: 0.85rem;
    }
    .exports {
      display: flex;
      flex-wrap: wrap;
      gap: 0.4rem 0.6rem;
      align-items: center;
      margin: 0.5rem 0;
    }
  `;

  @property({ attribute: false }) outcomes: LessonOutcome[] = [];
  @property({ attribute: false }) effect: LessonEffect | null = null;
  /** The category the lesson is about. */
  @property() quantity: PlanCategory = 'activations';
  /** Names the exported files: "checkpointing". */
  @property() lesson = 'lesson';

  @query('vl-compare-bars') private bars!: VlCompareBars | null;

  override render() {
    if (this.outcomes.length === 0) return nothing;
    const rows: CompareRow[] = this.outcomes.map((o) => ({
      id: o.variant.id,
      label: o.variant.label,
      bytes: o.report.actual.aliveAtPeak,
      marks: [{ label: 'vramlab', bytes: o.report.estimate.peak.bytes }],
    }));
    const base = this.outcomes[0]!;
    const f0 = countedFlops(base.report);
    return html`
      ${this.effect
        ? html`<div part="effect" class="effect" data-testid="lesson-effect" data-change=${this.effect.changePct.toFixed(2)}>
            <span class="big">${formatChange(this.effect.changePct)}</span>
            <p class="headline">${this.effect.headline}</p>
          </div>
          ${this.effect.details.length > 0 ? html`<ul class="details">${this.effect.details.map((d) => html`<li>${d}</li>`)}</ul>` : nothing}`
        : html`<p class="muted" data-testid="lesson-effect-missing">Not every run finished, so there is nothing to compare; see the table.</p>`}
      <vl-compare-bars
        data-testid="lesson-bars"
        .rows=${rows}
        emphasis=${this.quantity}
        label=${`Bytes alive at each run's measured peak, by category: ${rows.map((r) => `${r.label} ${formatBytes(this.outcomes.find((o) => o.variant.id === r.id)!.report.actual.peakBytes)}`).join('; ')}.`}
      ></vl-compare-bars>
      <div class="exports">
        <span class="muted">save</span>
        <vl-chart-export what="lesson chart" .name=${`vramlab-lesson-${this.lesson}`} .target=${() => this.bars?.svgElement ?? null}></vl-chart-export>
        <vl-results-export
          what=${`lesson ${this.lesson}`}
          .runs=${this.outcomes.map((o) => ({ id: o.variant.id, label: o.variant.label, status: 'done', config: o.variant.config, estimatedPeakBytes: o.report.estimate.peak.bytes, report: o.report }))}
        ></vl-results-export>
      </div>
      <div class="scroll">
        <table part="table" data-testid="lesson-table">
          <thead>
            <tr>
              <th scope="col">run</th>
              <th scope="col">${this.quantity} (measured)</th>
              <th scope="col">peak (measured)</th>
              <th scope="col">peak, estimate vramlab</th>
              <th scope="col">peak, estimate PyTorch</th>
              <th scope="col">counted compute per step</th>
              <th scope="col">step time, median [range]</th>
            </tr>
          </thead>
          <tbody>
            ${this.outcomes.map((o) => {
              const f = countedFlops(o.report);
              const t = stepTimeSummary(o.report.timing.stepsMs);
              let pytorch = '—';
              try {
                pytorch = formatBytes(estimateRunPytorch(o.variant.config).peak.bytes);
              } catch {
                // A shape the PyTorch model does not cover: the cell stays empty.
              }
              return html`<tr data-variant=${o.variant.id} data-flops=${f ?? ''}>
                <td>${o.variant.label}</td>
                <td data-testid="lesson-quantity" data-bytes=${o.report.actual.bytes[this.quantity]}>${formatBytes(o.report.actual.bytes[this.quantity])}</td>
                <td data-bytes=${o.report.actual.peakBytes}>${formatBytes(o.report.actual.peakBytes)}</td>
                <td data-bytes=${o.report.estimate.peak.bytes}>${formatBytes(o.report.estimate.peak.bytes)}</td>
                <td>${pytorch}</td>
                <td>${f === null ? '—' : `${gflop.format(f / 1e9)} GFLOP${f0 && o !== base ? ` (${formatChange((100 * (f - f0)) / f0)})` : ''}`}</td>
                <td title=${`${t.n} steps after the first`}>${t.text}</td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
      <p class="muted">
        Each run: ${describeLessonModel(base.report.config)}, ${formatInteger(base.report.config.steps)} steps, seed
        ${base.report.config.seed}. Bars show what was alive at each run's measured peak; ticks mark the planner's estimate of the same configuration.
        Counted compute is the work the engine executed in one step, recomputation included; step time is the median of the steps after the
        first (which compiles).
      </p>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-lesson-result': VlLessonResult;
  }
}
