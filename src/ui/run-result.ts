import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import type { EngineRunReport } from '../protocol/engine-api.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type PlanCategory } from '../protocol/plan.ts';
import { PHASE_NAMES, tensorsAliveAt } from '../protocol/run.ts';
import type { CompareRow } from './compare-bars.ts';
import { formatBytes, formatInteger } from './format.ts';
import { countedFlops } from './lesson-plans.ts';
import { formatLoss } from './loss-chart.ts';
import { describeRun } from './run-config.ts';
import { estimateRunPytorch } from './run-estimate.ts';
import { stepTimeSummary } from './step-time.ts';
import './compare-bars.ts';
import type { VlTimelineChart } from './timeline-chart.ts';
import './timeline-chart.ts';
import './chart-export-buttons.ts';
import './loss-chart.ts';
import './export-buttons.ts';

const TIMING_SOURCES: Record<EngineRunReport['timing']['source'], string> = {
  'timestamp-query': 'GPU timestamp queries',
  'wall-clock': 'wall clock',
};

const ms = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });
const MiB = 2 ** 20;
const mib = new Intl.NumberFormat('en', { maximumFractionDigits: 4 });
const pct = new Intl.NumberFormat('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const gflop = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });

/** "exact", "+1,024 B", "−12 B": measured minus estimated. */
function difference(measured: number, estimated: number): string {
  const d = measured - estimated;
  if (d === 0) return 'exact';
  return `${d > 0 ? '+' : '−'}${formatInteger(Math.abs(d))} B`;
}

/** "+12.5%", "−3.0%", "exact": (value − measured) / measured; "n/a" when nothing was measured. */
function percentError(value: number, measured: number): string {
  if (measured <= 0) return 'n/a';
  if (value === measured) return 'exact';
  const e = (100 * (value - measured)) / measured;
  return `${e >= 0 ? '+' : '−'}${pct.format(Math.abs(e))}%`;
}

/** The label of the measured step's first point with the most live bytes. */
function measuredPeakAt(report: EngineRunReport): string {
  let best = -1;
  let at = '';
  for (const p of report.timeline) {
    const t = PLAN_CATEGORIES.reduce((s, c) => s + p.bytes[c], 0);
    if (t > best) {
      best = t;
      at = p.label;
    }
  }
  return at || 'the start of the step';
}

/** A scaled-down run: how it was scaled, and the full-size plan it stands for. */
export interface RunScale {
  factor: number;
  /** "d 768→48, layers 12→1, …" */
  changes: string;
}

/**
 * One finished run, like for like: the measured bytes beside the planner's estimates of the
 * same configuration (framework vramlab, which the ledger matches, and PyTorch for the same
 * shapes), never beside the plan of another size; a scaled-down run says so in one sentence.
 * When the settings change after the run, the result is marked stale (and dimmed) until the
 * next run. Then the timeline (hover names the tensors alive), timing with its spread, the
 * loss and the exports.
 *
 * @csspart table - the estimate-vs-measured table
 */
@customElement('vl-run-result')
export class VlRunResult extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    h3 {
      font-size: 0.95rem;
      margin: 1.1rem 0 0.4rem;
    }
    p {
      margin: 0.3rem 0;
    }
    .muted {
      color: var(--vl-muted, #666);
    }
    .stale-note {
      color: var(--vl-warn-fg, #664d03);
      background: var(--vl-warn-bg, #fff3cd);
      padding: 0.4rem 0.6rem;
      border-radius: 6px;
      font-weight: 600;
    }
    .body.stale {
      opacity: 0.55;
    }
    .scaled {
      color: var(--vl-warn-fg, #664d03);
    }
    .scroll {
      overflow-x: auto;
      max-width: 100%;
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
    }
    td.num,
    th.num {
      text-align: right;
      font-variant-numeric: tabular-nums;
      white-space: nowrap;
    }
    tr.peak th,
    tr.peak td {
      font-weight: 650;
    }
    .exact {
      color: var(--vl-ok, #1a7f37);
    }
    .off {
      color: var(--vl-error, #b00020);
    }
    dl {
      display: grid;
      grid-template-columns: auto 1fr;
      gap: 0.15rem 0.75rem;
      font-size: 0.85rem;
      margin: 0;
    }
    dt {
      color: var(--vl-muted, #666);
    }
    dd {
      margin: 0;
      font-variant-numeric: tabular-nums;
    }
  `;

  @property({ attribute: false }) report: EngineRunReport | null = null;
  /** Set when the run was scaled down to fit this device. */
  @property({ attribute: false }) scale: RunScale | null = null;
  /** Set when the settings changed after the run: the sentence saying so. */
  @property() stale = '';
  /** The guess (MiB) locked in for this run; null when it had none. */
  @property({ attribute: false }) guessMiB: number | null = null;
  /** Counts finished runs, for tests telling a new result from the last one. */
  @property({ type: Number }) run = 0;

  @query('vl-timeline-chart') private timeline!: VlTimelineChart | null;

  override render() {
    const r = this.report;
    if (!r) return nothing;
    const est = r.estimate;
    const act = r.actual;
    const cats = PLAN_CATEGORIES.filter((c) => est.bytes[c] > 0 || act.bytes[c] > 0);
    let pytorch: EngineRunReport['estimate'] | null = null;
    try {
      pytorch = estimateRunPytorch(r.config);
    } catch {
      // A shape outside the PyTorch model: only the engine's own estimate is drawn.
    }
    const rows: CompareRow[] = [
      { id: 'measured', label: 'measured (the ledger), alive at the peak', bytes: act.aliveAtPeak },
      { id: 'vramlab', label: 'estimate for this engine (framework vramlab)', bytes: est.peak.alive },
      ...(pytorch ? [{ id: 'pytorch', label: 'estimate for PyTorch eager, same shapes', bytes: pytorch.peak.alive }] : []),
    ];
    const t = stepTimeSummary(r.timing.stepsMs);
    const flops = countedFlops(r);
    const lossFirst = r.loss[0];
    const lossLast = r.loss[r.loss.length - 1];
    return html`<section data-testid="run-result" data-run=${this.run} data-stale=${this.stale ? 'true' : 'false'} aria-labelledby="result-heading" tabindex="-1">
      <h3 id="result-heading">Measured on this device</h3>
      ${this.stale ? html`<p class="stale-note" role="status" data-testid="run-stale">${this.stale}</p>` : nothing}
      <div class="body ${this.stale ? 'stale' : ''}">
        <p class="muted" data-testid="run-config">
          ${describeRun(r.config)}, on ${r.adapter.description || r.adapter.vendor || 'this adapter'}${r.adapter.isFallbackAdapter ? ' (a software adapter)' : ''}.
        </p>
        ${this.scale
          ? html`<p class="scaled" data-testid="run-result-scaled" data-factor=${this.scale.factor}>
              This is the plan's model scaled down ×${this.scale.factor} to fit this device (${this.scale.changes}); every estimate below is of the
              scaled model, and the full-size plan stays above.
            </p>`
          : nothing}
        <vl-compare-bars data-testid="run-compare" .rows=${rows} label="Bytes alive at the peak by category: measured, and the estimates of the same configuration"></vl-compare-bars>
        <div class="scroll">
          <table part="table" data-testid="run-table">
            <thead>
              <tr>
                <th scope="col">category</th>
                <th scope="col" class="num">estimated</th>
                <th scope="col" class="num">measured</th>
                <th scope="col" class="num">difference</th>
              </tr>
            </thead>
            <tbody>
              ${cats.map((c) => this.renderRow(c, CATEGORY_LABELS[c], est.bytes[c], act.bytes[c]))}
              ${this.renderRow('peak', 'peak (at once)', est.peak.bytes, act.peakBytes)}
            </tbody>
          </table>
        </div>
        <p data-testid="peak-at">Peak by the estimate: in ${est.peak.phase}, at ${est.peak.at}. Measured peak: at ${measuredPeakAt(r)}.</p>
        <dl>
          <dt>left allocated after dispose</dt>
          <dd data-testid="live-after-dispose" data-bytes=${act.liveAfterDisposeBytes} title=${`${formatInteger(act.liveAfterDisposeBytes)} B`}>
            ${formatBytes(act.liveAfterDisposeBytes)}
          </dd>
          <dt>peak in allocated (aligned) sizes</dt>
          <dd data-bytes=${act.allocatedPeakBytes}>${formatBytes(act.allocatedPeakBytes)}</dd>
          <dt>physical peak (incl. released, unflushed)</dt>
          <dd data-bytes=${act.physicalPeakBytes}>${formatBytes(act.physicalPeakBytes)}</dd>
          <dt>readback staging (outside the peak)</dt>
          <dd data-bytes=${act.stagingBytes}>${formatBytes(act.stagingBytes)}</dd>
        </dl>
        ${this.guessMiB !== null ? this.renderGuessResult(r, this.guessMiB) : nothing}
        <h3>Live bytes over the last step</h3>
        <vl-chart-export what="timeline" .name=${`vramlab-timeline-${r.config.model}`} .target=${() => this.timeline?.svgElement ?? null}></vl-chart-export>
        <vl-timeline-chart
          data-testid="timeline-chart"
          .measured=${r.timeline}
          .estimate=${est.timeline}
          .measuredPeak=${act.peakBytes}
          .estimatedPeak=${est.peak.bytes}
          .aliveAt=${(i: number) => tensorsAliveAt(r, i)}
        ></vl-timeline-chart>
        <h3>Time per step</h3>
        <p>
          Measured with <strong data-testid="timing-source" data-source=${r.timing.source}>${TIMING_SOURCES[r.timing.source]}</strong>; median
          over the steps after the first (which compiles the pipelines). Whole step: <strong data-testid="timing-spread">${t.text}</strong>${t.n > 1
            ? ` over ${t.n} steps`
            : ''}.
          ${flops !== null ? html`Counted compute: <strong data-testid="run-flops" data-flops=${flops}>${gflop.format(flops / 1e9)} GFLOP</strong> per step.` : nothing}
        </p>
        <div class="scroll">
          <table data-testid="timing-table">
            <thead>
              <tr>
                ${PHASE_NAMES.map((p) => html`<th scope="col" class="num">${p}</th>`)}
                <th scope="col" class="num">whole step</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                ${PHASE_NAMES.map((p) => html`<td class="num" data-testid=${`timing-${p}`}>${ms.format(r.timing.phasesMs[p])} ms</td>`)}
                <td class="num" data-testid="timing-step">${ms.format(r.timing.stepMs)} ms</td>
              </tr>
            </tbody>
          </table>
        </div>
        <p>
          Recording a step's commands took <strong data-testid="timing-record">${ms.format(r.timing.recordMs)} ms</strong> of CPU time (JavaScript and
          the browser's WebGPU calls), part of the whole step: on a fast GPU it sets the floor of a step's time.
        </p>
        <h3>Loss</h3>
        <p data-testid="run-loss">
          ${lossFirst === undefined
            ? 'No steps ran.'
            : html`${formatLoss(lossFirst)} → ${formatLoss(lossLast!)} over ${r.loss.length} step${r.loss.length === 1 ? '' : 's'}; skipped steps
                <span data-testid="skipped-steps">${r.skippedSteps}</span>.`}
        </p>
        <vl-loss-chart .loss=${r.loss}></vl-loss-chart>
        <vl-export-buttons .report=${r}></vl-export-buttons>
      </div>
    </section>`;
  }

  /** Guess vs estimate vs measured peak, each error relative to the measurement. */
  private renderGuessResult(r: EngineRunReport, guessMiB: number) {
    const measured = r.actual.peakBytes;
    const guessBytes = Math.round(guessMiB * MiB);
    const rows = [
      { key: 'guess', label: 'your guess', bytes: guessBytes, text: `${mib.format(guessMiB)} MiB` },
      { key: 'estimate', label: 'estimate (framework vramlab)', bytes: r.estimate.peak.bytes, text: formatBytes(r.estimate.peak.bytes) },
      { key: 'measured', label: 'measured (the ledger)', bytes: measured, text: formatBytes(measured) },
    ];
    return html`<div data-testid="guess-result">
      <h3>Your guess vs the estimate vs the measurement</h3>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">peak</th>
              <th scope="col" class="num">bytes</th>
              <th scope="col" class="num">error vs measured</th>
            </tr>
          </thead>
          <tbody>
            ${rows.map((row) => {
              const err = row.key === 'measured' ? '' : percentError(row.bytes, measured);
              return html`<tr data-row=${row.key}>
                <th scope="row">${row.label}</th>
                <td class="num" data-testid=${`guess-${row.key}`} data-bytes=${row.bytes} title=${`${formatInteger(row.bytes)} B`}>${row.text}</td>
                <td class="num ${err === 'exact' ? 'exact' : ''}" data-testid=${`guess-${row.key}-error`}>${err || '—'}</td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
    </div>`;
  }

  private renderRow(key: PlanCategory | 'peak', label: string, estimated: number, measured: number) {
    const diff = difference(measured, estimated);
    return html`<tr class=${key === 'peak' ? 'peak' : ''} data-category=${key}>
      <th scope="row">${label}</th>
      <td class="num" data-testid=${`estimated-${key}`} data-bytes=${estimated} title=${`${formatInteger(estimated)} B`}>${formatBytes(estimated)}</td>
      <td class="num" data-testid=${`measured-${key}`} data-bytes=${measured} title=${`${formatInteger(measured)} B`}>${formatBytes(measured)}</td>
      <td class="num ${diff === 'exact' ? 'exact' : 'off'}" data-testid=${`difference-${key}`}>${diff}</td>
    </tr>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-run-result': VlRunResult;
  }
}
