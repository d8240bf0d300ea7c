import { html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import { CROSS_PRECISIONS, describeBase, tradeoffModes, withSetting } from './experiment-jobs.ts';
import { renderQueueStatus, renderRunControls, renderSaves, statusText } from './experiment-parts.ts';
import { ExperimentViewBase } from './experiment-view.ts';
import { formatBytes } from './format.ts';
import type { LabRunner } from './lab-runner.ts';
import { countedFlops, formatChange } from './lesson-plans.ts';
import type { QueueJob, QueuePoint } from './run-queue.ts';
import type { ScatterPoint, ScatterSeries } from './scatter-chart.ts';
import { stepTimeSummary } from './step-time.ts';
import './scatter-chart.ts';

const gflop = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });

/** The counted work of a finished point's step: the engine's count, else the runner's model of the same config. */
export function pointFlops(p: QueuePoint, runner: LabRunner | null): number | null {
  if (p.report) {
    const counted = countedFlops(p.report);
    if (counted !== null) return counted;
  }
  return p.config && runner ? runner.work(p.config).totalFlops : null;
}

/**
 * The checkpointing trade-off: one run per mode (optionally × precision), drawn as measured
 * peak memory against the step's counted compute — a deterministic count of the work the
 * engine executed (RunReport.work), recomputation included, so every checkpointing mode sits
 * right of none on that axis, whatever the timer says. (In this engine full checkpointing
 * recomputes each block only up to what its backward needs, while √n re-runs whole segments,
 * so √n counts a little more than full.) Each estimate of the same configuration is a ring at
 * the same x. Measured step time is in the table as a median with its range, never one step.
 *
 * @fires vl-experiment-done - the runs ended; detail: { view: 'tradeoff', points }
 * @csspart chart - the chart
 * @csspart table - the table of points
 */
@customElement('vl-tradeoff-view')
export class VlTradeoffView extends ExperimentViewBase {
  constructor() {
    super('tradeoff');
  }

  /** Modes the user unticked; every mode is on by default. */
  @state() private excludedModes: ReadonlySet<string> = new Set();
  @state() private crossPrecision = false;

  private jobs(base: EngineRunConfig): QueueJob[] {
    const modes = tradeoffModes(base).filter((m) => !this.excludedModes.has(m));
    const precisions = this.crossPrecision ? CROSS_PRECISIONS : [base.precision];
    return precisions.flatMap((precision) =>
      modes.map((mode) => {
        const id = this.crossPrecision ? `${mode}-${precision}` : mode;
        const label = this.crossPrecision ? `${mode}, ${precision}` : mode;
        const made = withSetting(base, { checkpoint: mode, precision });
        if ('error' in made) return { id, label, config: null, skip: made.error };
        const big = this.tooBig(made.config);
        return big ? { id, label, config: null, skip: big } : { id, label, config: made.config };
      }),
    );
  }

  override render() {
    if (this.inactive) return nothing;
    const base = this.base;
    if (!base) return html`<p class="error" data-testid="tradeoff-error">${this.baseError}</p>`;
    const modes = tradeoffModes(base);
    const chosen = modes.filter((m) => !this.excludedModes.has(m));
    const why = this.engineBlocker || (chosen.length === 0 ? 'Choose at least one mode.' : null);
    const q = this.queue;
    const busy = q.running;
    const jobs = this.jobs(base);
    const done = q.points.filter((p) => p.report);
    const first = done.find((p) => p.config?.checkpoint === 'none') ?? done[0];
    const f0 = first ? pointFlops(first, this.runner) : null;
    const points: ScatterPoint[] = done.flatMap((p) => {
      const r = p.report!;
      const x = pointFlops(p, this.runner) ?? 0;
      const est = p.estimate?.peak.bytes ?? r.estimate.peak.bytes;
      return [
        { x, y: est, tone: 'estimate', shape: 'ring', title: `${p.label}: estimated peak ${formatBytes(est)}` },
        { x, y: r.actual.peakBytes, tone: 'measured', shape: 'dot', label: p.label, title: `${p.label}: measured peak ${formatBytes(r.actual.peakBytes)}, ${gflop.format(x / 1e9)} GFLOP a step` },
      ] satisfies ScatterPoint[];
    });
    const series: ScatterSeries[] = [
      { tone: 'measured', shape: 'dot', label: 'measured peak' },
      { tone: 'estimate', shape: 'ring', label: 'estimated peak of the same run' },
    ];
    return html`
      <p class="muted">
        Runs the config once per checkpointing mode: less memory for activations, paid for in recomputation. Base:
        ${describeBase(base)}, ${base.precision}.
      </p>
      <div class="controls">
        <fieldset ?disabled=${busy}>
          <legend>modes</legend>
          ${modes.map(
            (m) => html`<label
              ><input type="checkbox" data-testid="tradeoff-mode-${m}" data-mode=${m} .checked=${!this.excludedModes.has(m)} @change=${this.handleModeToggle} />${m}</label
            >`,
          )}
        </fieldset>
        <label class="inline"
          ><input type="checkbox" data-testid="tradeoff-cross" .checked=${this.crossPrecision} ?disabled=${busy} @change=${this.handleCrossToggle} />× precision fp32 /
          amp-bf16</label
        >
      </div>
      ${renderRunControls({ queue: q, runner: this.runner, jobs, testid: 'tradeoff-run', label: 'Run under each checkpointing mode', why, onRun: this.handleRun })}
      ${renderQueueStatus(q, 'mode', 'tradeoff-status')}
      ${points.length > 0
        ? html`<vl-scatter-chart
            part="chart"
            data-testid="tradeoff-chart"
            .series=${series}
            .points=${points}
            xLabel="counted compute per step (GFLOP, recomputation included)"
            .formatX=${(v: number) => gflop.format(v / 1e9)}
            label=${`Measured peak memory against counted compute per checkpointing mode: ${done
              .map((p) => `${p.label} ${formatBytes(p.report!.actual.peakBytes)} at ${gflop.format((pointFlops(p, this.runner) ?? 0) / 1e9)} GFLOP`)
              .join('; ')}.`}
          ></vl-scatter-chart>`
        : nothing}
      ${renderSaves(q, 'tradeoff', points.length > 0 ? () => this.chart?.svgElement ?? null : null)}
      ${q.points.length > 0
        ? html`<div class="scroll">
            <table part="table" data-testid="tradeoff-table">
              <thead>
                <tr>
                  <th scope="col">mode</th>
                  <th scope="col">estimated peak</th>
                  <th scope="col">measured peak</th>
                  <th scope="col">counted compute</th>
                  <th scope="col">step time, median [range]</th>
                  <th scope="col">status</th>
                </tr>
              </thead>
              <tbody>
                ${q.points.map((p) => {
                  const r = p.report;
                  const f = r ? pointFlops(p, this.runner) : null;
                  const t = r ? stepTimeSummary(r.timing.stepsMs) : null;
                  return html`<tr
                    data-testid="tradeoff-point-${p.id}"
                    data-status=${p.status}
                    data-estimated=${p.estimate?.peak.bytes ?? ''}
                    data-peak=${r ? r.actual.peakBytes : ''}
                    data-flops=${f ?? ''}
                    data-ms=${t ? t.median : ''}
                  >
                    <th scope="row">${p.label}</th>
                    <td>${p.estimate ? formatBytes(p.estimate.peak.bytes) : '—'}</td>
                    <td>${r ? formatBytes(r.actual.peakBytes) : '—'}</td>
                    <td>${f !== null ? `${gflop.format(f / 1e9)} GFLOP${f0 && p !== first ? ` (${formatChange((100 * (f - f0)) / f0)})` : ''}` : '—'}</td>
                    <td>${t ? t.text : '—'}</td>
                    <td class="status ${p.failure && p.status !== 'cancelled' ? 'fail' : ''}">${statusText(p)}</td>
                  </tr>`;
                })}
              </tbody>
            </table>
          </div>`
        : nothing}
    `;
  }

  private readonly handleRun = (): void => {
    if (!this.runner || !this.base || this.queue.running) return;
    void this.queue.start(this.runner, this.jobs(this.base));
  };

  private readonly handleModeToggle = (e: Event): void => {
    const input = e.target as HTMLInputElement;
    const mode = input.dataset['mode'] ?? '';
    const next = new Set(this.excludedModes);
    if (input.checked) next.delete(mode);
    else next.add(mode);
    this.excludedModes = next;
  };

  private readonly handleCrossToggle = (e: Event): void => {
    this.crossPrecision = (e.target as HTMLInputElement).checked;
  };
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-tradeoff-view': VlTradeoffView;
  }
}
