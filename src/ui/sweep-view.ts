import { html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import { SWEEP_KEYS, SWEEP_MAX_POINTS, SWEEP_MIN_POINTS, curveXs, parseSweepValues, sweepDefault, sweepKeys, withSetting, type SweepKey } from './experiment-jobs.ts';
import { renderQueueStatus, renderRunControls, renderSaves, statusText } from './experiment-parts.ts';
import { ExperimentViewBase } from './experiment-view.ts';
import { formatBytes, formatInteger } from './format.ts';
import { estimateRun } from './run-estimate.ts';
import type { QueueJob } from './run-queue.ts';
import type { ScatterCurve, ScatterPoint, ScatterSeries } from './scatter-chart.ts';
import { stepTimeSummary } from './step-time.ts';
import './scatter-chart.ts';

/**
 * A sweep: one setting over a few values, the planner's estimate (peak and activations) drawn
 * as curves over the whole range and the measured runs as points on them. Nothing is computed
 * while the view's tab is not shown (ExperimentViewBase.inactive).
 *
 * @fires vl-experiment-done - the runs ended; detail: { view: 'sweep', points }
 * @csspart chart - the chart
 * @csspart table - the table of points
 */
@customElement('vl-sweep-view')
export class VlSweepView extends ExperimentViewBase {
  constructor() {
    super('sweep');
  }

  @state() private sweepKey: SweepKey = 'batch';
  /** The values as typed; null until the user types, meaning the default for the run and key (sweepDefault). */
  @state() private sweepText: string | null = null;

  /** The last estimate curve and what it was computed for (JSON of base config, key, range). */
  private curveCache: { key: string; curve: { x: number; peak: number; activations: number }[] } | null = null;

  private jobs(base: EngineRunConfig, key: SweepKey, values: number[]): QueueJob[] {
    return values.map((v) => {
      const id = String(v);
      const label = `${key} ${v}`;
      const made = withSetting(base, { [key]: v });
      if ('error' in made) return { id, label, value: v, config: null, skip: made.error };
      const big = this.tooBig(made.config);
      return big ? { id, label, value: v, config: null, skip: big } : { id, label, value: v, config: made.config };
    });
  }

  /** The framework-vramlab estimate over every whole value (or CURVE_POINTS of them) between the smallest and largest swept value. */
  private estimateCurve(base: EngineRunConfig, key: SweepKey, values: number[]) {
    const lo = values[0]!;
    const hi = values[values.length - 1]!;
    const cacheKey = JSON.stringify([base, key, lo, hi]);
    if (this.curveCache?.key === cacheKey) return this.curveCache.curve;
    const curve: { x: number; peak: number; activations: number }[] = [];
    for (const x of curveXs(lo, hi)) {
      const made = withSetting(base, { [key]: x });
      if ('error' in made) continue;
      try {
        const plan = estimateRun(made.config);
        curve.push({ x, peak: plan.peak.bytes, activations: plan.bytes.activations });
      } catch {
        // A value the planner refuses has no point on the curve; the table says why if it is swept.
      }
    }
    this.curveCache = { key: cacheKey, curve };
    return curve;
  }

  private key(base: EngineRunConfig): SweepKey {
    return sweepKeys(base).includes(this.sweepKey) ? this.sweepKey : 'batch';
  }

  override render() {
    if (this.inactive) return nothing;
    const base = this.base;
    if (!base) return html`<p class="error" data-testid="sweep-error">${this.baseError}</p>`;
    const keys = sweepKeys(base);
    const key = this.key(base);
    const text = this.sweepText ?? sweepDefault(base, key);
    const parsed = parseSweepValues(text, key);
    const why = this.engineBlocker || ('error' in parsed ? 'Fix the values first.' : null);
    const q = this.queue;
    const busy = q.running;
    const jobs = 'values' in parsed ? this.jobs(base, key, parsed.values) : [];
    const curve = 'values' in parsed ? this.estimateCurve(base, key, parsed.values) : [];
    const curves: ScatterCurve[] = [
      { tone: 'estimate', shape: 'line', points: curve.map((c) => [c.x, c.peak] as const) },
      { tone: 'estimateActivations', shape: 'dashed', points: curve.map((c) => [c.x, c.activations] as const) },
    ];
    const swept = q.points.filter((p) => p.report && p.value !== undefined);
    const points: ScatterPoint[] = swept.flatMap((p) => {
      const r = p.report!;
      const x = p.value!;
      return [
        { x, y: r.actual.bytes.activations, tone: 'activations', shape: 'square', title: `${p.label}: measured activations ${formatBytes(r.actual.bytes.activations)}` },
        { x, y: r.actual.peakBytes, tone: 'measured', shape: 'dot', label: formatBytes(r.actual.peakBytes), title: `${p.label}: measured peak ${formatBytes(r.actual.peakBytes)}` },
      ] satisfies ScatterPoint[];
    });
    const series: ScatterSeries[] = [
      { tone: 'estimate', shape: 'line', label: 'estimated peak' },
      { tone: 'measured', shape: 'dot', label: 'measured peak' },
      { tone: 'estimateActivations', shape: 'dashed', label: 'estimated activations' },
      { tone: 'activations', shape: 'square', label: 'measured activations' },
    ];
    const errorId = 'sweep-values-error';
    return html`
      <p class="muted">Changes one setting over a few values: the estimate is drawn over the whole range, the runs at the chosen values.</p>
      <div class="controls">
        <label
          >sweep
          <select data-testid="sweep-key" .value=${key} ?disabled=${busy} @change=${this.handleSweepKey}>
            ${keys.map((k) => html`<option value=${k} ?selected=${k === key}>${k}</option>`)}
          </select></label
        >
        <label
          >values (${SWEEP_MIN_POINTS}–${SWEEP_MAX_POINTS}, comma-separated)
          <input
            class="values"
            data-testid="sweep-values"
            .value=${text}
            ?disabled=${busy}
            aria-invalid=${'error' in parsed ? 'true' : 'false'}
            aria-describedby=${'error' in parsed ? errorId : nothing}
            @input=${this.handleSweepValues}
        /></label>
      </div>
      ${'error' in parsed ? html`<p class="error" id=${errorId} data-testid="sweep-values-error">${parsed.error}</p>` : nothing}
      ${renderRunControls({ queue: q, runner: this.runner, jobs, testid: 'sweep-run', label: `Run the sweep over ${key}`, why, onRun: this.handleRun })}
      ${renderQueueStatus(q, 'point', 'sweep-status')}
      ${curve.length > 0
        ? html`<vl-scatter-chart
            part="chart"
            data-testid="sweep-chart"
            .series=${series}
            .curves=${curves}
            .points=${points}
            xFromData
            xLabel=${key}
            .formatX=${(v: number) => formatInteger(v)}
            label=${`Estimated peak memory over ${key} from ${curve[0]!.x} to ${curve[curve.length - 1]!.x}${
              swept.length ? `, with measured points: ${swept.map((p) => `${p.label} ${formatBytes(p.report!.actual.peakBytes)}`).join('; ')}` : ''
            }.`}
          ></vl-scatter-chart>`
        : nothing}
      ${renderSaves(q, 'sweep', points.length > 0 ? () => this.chart?.svgElement ?? null : null)}
      ${q.points.length > 0
        ? html`<div class="scroll">
            <table part="table" data-testid="sweep-table">
              <thead>
                <tr>
                  <th scope="col">${q.points[0]!.label.split(' ')[0]}</th>
                  <th scope="col">estimated peak</th>
                  <th scope="col">measured peak</th>
                  <th scope="col">estimated activations</th>
                  <th scope="col">measured activations</th>
                  <th scope="col">step time, median [range]</th>
                  <th scope="col">status</th>
                </tr>
              </thead>
              <tbody>
                ${q.points.map((p) => {
                  const r = p.report;
                  return html`<tr data-testid="sweep-point-${p.id}" data-status=${p.status} data-estimated=${p.estimate?.peak.bytes ?? ''} data-measured=${r ? r.actual.peakBytes : ''}>
                    <th scope="row">${formatInteger(p.value ?? 0)}</th>
                    <td>${p.estimate ? formatBytes(p.estimate.peak.bytes) : '—'}</td>
                    <td>${r ? formatBytes(r.actual.peakBytes) : '—'}</td>
                    <td>${p.estimate ? formatBytes(p.estimate.bytes.activations) : '—'}</td>
                    <td>${r ? formatBytes(r.actual.bytes.activations) : '—'}</td>
                    <td>${r ? stepTimeSummary(r.timing.stepsMs).text : '—'}</td>
                    <td class="status ${p.failure && p.status !== 'cancelled' ? 'fail' : ''}">${statusText(p)}</td>
                  </tr>`;
                })}
              </tbody>
            </table>
          </div>`
        : nothing}
    `;
  }

  private readonly handleSweepKey = (e: Event): void => {
    const k = (e.target as HTMLSelectElement).value;
    if (!(SWEEP_KEYS as readonly string[]).includes(k)) return;
    this.sweepKey = k as SweepKey;
    this.sweepText = null;
  };

  private readonly handleSweepValues = (e: Event): void => {
    this.sweepText = (e.target as HTMLInputElement).value;
  };

  private readonly handleRun = (): void => {
    const base = this.base;
    if (!this.runner || !base || this.queue.running) return;
    const key = this.key(base);
    const parsed = parseSweepValues(this.sweepText ?? sweepDefault(base, key), key);
    if ('error' in parsed) return;
    void this.queue.start(this.runner, this.jobs(base, key, parsed.values));
  };
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-sweep-view': VlSweepView;
  }
}
