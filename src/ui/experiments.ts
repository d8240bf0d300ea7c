import { LitElement, css, html, nothing, type ReactiveController, type ReactiveControllerHost } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { estimate } from '../estimate/index.ts';
import { DEFAULT_PLAN, LIMITS, type PlanConfig } from '../protocol/config.ts';
import type { AdapterSummary, EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import type { Plan } from '../protocol/plan.ts';
import {
  GPT_CHECKPOINTS,
  GptRunConfigSchema,
  RUN_CHECKPOINTS,
  RunConfigSchema,
  planConfigOf,
  planConfigOfGpt,
  type RunProgress,
} from '../protocol/run.ts';
import { AdapterConsumer, type EngineStatus } from './engine-controller.ts';
import { formatBytes, formatInteger } from './format.ts';
import { PANEL_MAX_STEPS, runConfigFor, type RunEngine } from './run-panel.ts';
import { checkFit, deviceBudget } from './scale.ts';
import type { ScatterCurve, ScatterPoint, ScatterSeries } from './scatter-chart.ts';
import './scatter-chart.ts';

export const EXPERIMENT_VIEWS = ['tradeoff', 'sweep'] as const;
export type ExperimentView = (typeof EXPERIMENT_VIEWS)[number];

const VIEW_LABELS: Record<ExperimentView, string> = { tradeoff: 'Checkpointing trade-off', sweep: 'Sweep' };

export const SWEEP_KEYS = ['batch', 'seq', 'layers'] as const;
export type SweepKey = (typeof SWEEP_KEYS)[number];

/** A sweep runs this many points at least (a line needs two) and at most (each is a full run). */
export const SWEEP_MIN_POINTS = 2;
export const SWEEP_MAX_POINTS = 8;

/** The estimate curve is drawn through at most this many x values (each one estimate() call, well under a millisecond). */
const CURVE_POINTS = 48;

const SWEEP_DEFAULTS: Record<SweepKey, string> = { batch: '4,8,16', seq: '32,64,128', layers: '1,2,4' };
const SWEEP_MAX: Record<SweepKey, number> = { batch: LIMITS.batch, seq: 1 << 16, layers: LIMITS.layers };

/** The trade-off's second axis: the engine's full-precision and bf16 mixed-precision runs. */
const CROSS_PRECISIONS = ['fp32', 'amp-bf16'] as const;

/** Every run uses this seed: the same weights and data at each point, so only the swept setting differs. */
const SEED = 1;
const DEFAULT_STEPS = 3;

type Checkpoint = EngineRunConfig['checkpoint'];

/** The checkpointing modes the engine runs for this config: selective only for a GPT with eager attention (it recomputes the attention probabilities). */
export function tradeoffModes(c: EngineRunConfig): Checkpoint[] {
  if (c.model === 'mlp') return [...RUN_CHECKPOINTS];
  return GPT_CHECKPOINTS.filter((m) => m !== 'selective' || c.attention === 'eager');
}

/** Which sweep keys apply: seq only to a GPT. */
export function sweepKeys(c: EngineRunConfig): SweepKey[] {
  return c.model === 'gpt' ? [...SWEEP_KEYS] : SWEEP_KEYS.filter((k) => k !== 'seq');
}

/**
 * "4, 8,16" → [4, 8, 16]: 2–8 distinct whole numbers from 1 to the key's limit, sorted. The
 * error is one sentence naming what to change.
 */
export function parseSweepValues(text: string, key: SweepKey): { values: number[] } | { error: string } {
  const parts = text.split(/[\s,]+/).filter((s) => s !== '');
  if (parts.length < SWEEP_MIN_POINTS || parts.length > SWEEP_MAX_POINTS) {
    return { error: `give ${SWEEP_MIN_POINTS} to ${SWEEP_MAX_POINTS} values of ${key}, separated by commas, e.g. ${SWEEP_DEFAULTS[key]}` };
  }
  const values: number[] = [];
  for (const p of parts) {
    const v = /^\d+$/.test(p) ? Number(p) : Number.NaN;
    if (!Number.isSafeInteger(v) || v < 1) return { error: `${key} values must be whole numbers of 1 or more; "${p}" is not` };
    if (v > SWEEP_MAX[key]) return { error: `${key} must be at most ${formatInteger(SWEEP_MAX[key])}; "${p}" is over` };
    if (values.includes(v)) return { error: `${key} ${v} is listed twice` };
    values.push(v);
  }
  return { values: values.sort((a, b) => a - b) };
}

/** The run with one setting changed, checked by the model's schema again (a GPT's layers, seq…). */
export function withSetting(c: EngineRunConfig, changes: Partial<Record<SweepKey, number>> & { checkpoint?: Checkpoint; precision?: EngineRunConfig['precision'] }): { config: EngineRunConfig } | { error: string } {
  const raw = { ...c, ...changes };
  const r = c.model === 'gpt' ? GptRunConfigSchema.safeParse(raw) : RunConfigSchema.safeParse(raw);
  if (r.success) return { config: r.data };
  const issue = r.error.issues[0]!;
  return { error: `${issue.path.join('.') || 'config'}: ${issue.message}` };
}

/** The planner's framework-vramlab plan for a run: what the engine's ledger will measure. */
export function estimateRun(c: EngineRunConfig): Plan {
  return estimate(c.model === 'gpt' ? planConfigOfGpt(c) : planConfigOf(c));
}

/** At most `n` whole numbers spread evenly from lo to hi, both included. */
export function curveXs(lo: number, hi: number, n = CURVE_POINTS): number[] {
  if (hi - lo + 1 <= n) return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  return [...new Set(Array.from({ length: n }, (_, i) => Math.round(lo + ((hi - lo) * i) / (n - 1))))];
}

const failureOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });

/** One run of an experiment: a checkpointing mode (and precision), or one value of the swept key. */
export interface ExperimentJob {
  /** Unique in its experiment and safe in a test id: "full", "sqrt-amp-bf16", "8". */
  id: string;
  /** How the progress line and the table name it: "full", "batch 8". */
  label: string;
  /** The x of a sweep point. */
  value?: number;
  /** null when the point cannot be run; `skip` says why. */
  config: EngineRunConfig | null;
  skip?: string;
}

export const POINT_STATUSES = ['pending', 'running', 'done', 'failed', 'skipped', 'cancelled'] as const;
export type PointStatus = (typeof POINT_STATUSES)[number];

export interface ExperimentPoint extends ExperimentJob {
  status: PointStatus;
  /** The planner's framework-vramlab plan for `config`, computed before the run. */
  estimate: Plan | null;
  report: EngineRunReport | null;
  failure: { name: string; message: string } | null;
}

export const EXPERIMENT_PHASES = ['idle', 'running', 'done', 'cancelled'] as const;
export type ExperimentPhase = (typeof EXPERIMENT_PHASES)[number];

/**
 * Runs a list of jobs one after another on the host's engine, each awaited, so the page keeps
 * answering; a failing point records its error and the next one starts. Cancelling stops the
 * run in flight (the worker frees its buffers) and the ones after it. A run in flight when the
 * host leaves the page is cancelled.
 */
class ExperimentController implements ReactiveController {
  phase: ExperimentPhase = 'idle';
  points: ExperimentPoint[] = [];
  /** Index of the point running now. */
  current = -1;
  progress: RunProgress | null = null;
  cancelling = false;
  /** Counts finished experiments, so a test can tell a new result from the last one. */
  finished = 0;

  private engine: RunEngine | null = null;
  private token = 0;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly onDone: (points: ExperimentPoint[]) => void,
  ) {
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    if (this.phase === 'running') void this.cancel();
  }

  async start(engine: RunEngine, jobs: ExperimentJob[]): Promise<void> {
    if (this.phase === 'running') return;
    const token = ++this.token;
    this.engine = engine;
    this.phase = 'running';
    this.cancelling = false;
    this.points = jobs.map((j) => {
      let plan: Plan | null = null;
      let skip = j.skip;
      if (j.config) {
        try {
          plan = estimateRun(j.config);
        } catch (e) {
          skip ??= failureOf(e).message;
        }
      }
      const skipped = !j.config || skip !== undefined;
      return {
        ...j,
        skip,
        status: skipped ? 'skipped' : 'pending',
        estimate: plan,
        report: null,
        failure: skipped ? { name: 'Skipped', message: skip ?? 'not runnable' } : null,
      };
    });
    this.host.requestUpdate();
    for (let i = 0; i < this.points.length; i++) {
      if (token !== this.token || this.cancelling) break;
      const p = this.points[i]!;
      if (p.status !== 'pending' || !p.config) continue;
      this.current = i;
      this.progress = { stage: 'allocating', step: 0, steps: p.config.steps };
      this.update(i, { status: 'running' });
      try {
        const report = await engine.run(p.config, (pr) => {
          if (token !== this.token || this.current !== i) return;
          this.progress = pr;
          this.host.requestUpdate();
        });
        if (token !== this.token) return;
        this.update(i, { status: 'done', report });
      } catch (e) {
        if (token !== this.token) return;
        const failure = failureOf(e);
        this.update(i, { status: failure.name === 'Cancelled' ? 'cancelled' : 'failed', failure });
      }
    }
    if (token !== this.token) return;
    const cancelled = this.cancelling;
    this.points = this.points.map((p) => (p.status === 'pending' ? { ...p, status: 'cancelled' } : p));
    this.phase = cancelled ? 'cancelled' : 'done';
    this.current = -1;
    this.progress = null;
    this.cancelling = false;
    this.finished += 1;
    this.host.requestUpdate();
    this.onDone(this.points);
  }

  async cancel(): Promise<void> {
    if (this.phase !== 'running' || !this.engine) return;
    this.cancelling = true;
    this.host.requestUpdate();
    try {
      await this.engine.cancel();
    } catch {
      // A dead worker cannot be cancelled; its run fails with WorkerFailed on its own.
    }
  }

  private update(i: number, changes: Partial<ExperimentPoint>): void {
    this.points = this.points.map((p, j) => (j === i ? { ...p, ...changes } : p));
    this.host.requestUpdate();
  }
}

export interface ExperimentDoneDetail {
  view: ExperimentView;
  points: ExperimentPoint[];
}

const msFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });
const formatMs = (v: number) => `${msFormat.format(v)} ms`;

const STATUS_TEXT: Record<PointStatus, string> = {
  pending: 'waiting',
  running: 'running…',
  done: 'done',
  failed: 'failed',
  skipped: 'not run',
  cancelled: 'cancelled',
};

/**
 * Experiments on the engine around the planner's current config, each a series of real runs
 * drawn against the planner: the checkpointing trade-off (one run per mode, and optionally per
 * precision: measured peak against step time, with each estimate as a ring at the same x) and a
 * sweep (one key over chosen values: the estimated peak and activations as curves over the
 * whole range, the measured points on them). Runs go one at a time and are awaited; a point
 * that fails (BufferTooLarge, OutOfMemory…) shows its error and the rest continue. Talks to the
 * engine only through `engine`; for GPT configs the adapter (from the page's EngineController,
 * or the `adapter` property) decides which points are too big to try.
 *
 * @fires vl-experiment-done - an experiment ended (all points run, or cancelled); detail: ExperimentDoneDetail
 * @csspart tabs - the row of view tabs
 * @csspart chart - each view's chart
 * @csspart table - each view's table of points
 */
@customElement('vl-experiments')
export class VlExperiments extends LitElement {
  static override styles = css`
    :host {
      display: block;
      margin-top: 1.5rem;
      border-top: 1px solid var(--vl-border, #ddd);
      padding-top: 0.75rem;
    }
    h2 {
      font-size: 1.1rem;
      margin: 0 0 0.4rem;
    }
    [role='tablist'] {
      display: flex;
      gap: 0.25rem;
      border-bottom: 1px solid var(--vl-border, #ddd);
      margin-bottom: 0.6rem;
    }
    [role='tab'] {
      font: inherit;
      padding: 0.3rem 0.8rem;
      border: 1px solid transparent;
      border-bottom: none;
      background: none;
      color: inherit;
      cursor: pointer;
      border-radius: 4px 4px 0 0;
    }
    [role='tab'][aria-selected='true'] {
      border-color: var(--vl-border, #ddd);
      background: var(--vl-surface, transparent);
      font-weight: 600;
    }
    [role='tab']:focus-visible,
    button:focus-visible,
    input:focus-visible,
    select:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
    .controls {
      display: flex;
      flex-wrap: wrap;
      gap: 0.5rem 1rem;
      align-items: end;
      margin: 0.4rem 0;
    }
    fieldset {
      border: 1px solid var(--vl-border, #ddd);
      border-radius: 4px;
      padding: 0.2rem 0.6rem 0.4rem;
      margin: 0;
    }
    label {
      display: inline-flex;
      flex-direction: column;
      font-size: 0.85rem;
      gap: 0.15rem;
    }
    fieldset label,
    label.inline {
      flex-direction: row;
      align-items: center;
      gap: 0.3rem;
      margin-right: 0.6rem;
    }
    input[type='number'] {
      width: 5rem;
    }
    input.values {
      width: 10rem;
    }
    .error,
    .fail {
      color: var(--vl-danger, #b3261e);
    }
    .muted {
      color: var(--vl-muted, #666);
      font-size: 0.85rem;
    }
    table {
      border-collapse: collapse;
      font-size: 0.85rem;
      margin-top: 0.5rem;
      font-variant-numeric: tabular-nums;
    }
    th,
    td {
      text-align: right;
      padding: 0.2rem 0.6rem;
      border-bottom: 1px solid var(--vl-border, #eee);
    }
    th:first-child,
    td:first-child,
    td.status {
      text-align: left;
    }
    vl-scatter-chart {
      max-width: 44rem;
    }
  `;

  /** The planner form's config: the experiments vary it. */
  @property({ attribute: false }) planConfig: PlanConfig = DEFAULT_PLAN;
  /** The page's engine (EngineController.run and the worker's cancel); null until the page has one. */
  @property({ attribute: false }) engine: RunEngine | null = null;
  @property() engineStatus: EngineStatus = 'connecting';
  /** The adapter, when not provided through ADAPTER_REQUEST (e.g. a page without an EngineController). */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;

  @state() private view: ExperimentView = 'tradeoff';
  @state() private stepsText = String(DEFAULT_STEPS);
  /** Modes the user unticked; every mode is on by default. */
  @state() private excludedModes: ReadonlySet<string> = new Set();
  @state() private crossPrecision = false;
  @state() private sweepKey: SweepKey = 'batch';
  @state() private sweepText = SWEEP_DEFAULTS.batch;

  private readonly adapterConsumer = new AdapterConsumer(this);
  private readonly tradeoff = new ExperimentController(this, (points) => this.dispatchDone('tradeoff', points));
  private readonly sweep = new ExperimentController(this, (points) => this.dispatchDone('sweep', points));
  /** The last estimate curve and what it was computed for (JSON of base config, key, range). */
  private curveCache: { key: string; curve: { x: number; peak: number; activations: number }[] } | null = null;

  private get busy(): boolean {
    return this.tradeoff.phase === 'running' || this.sweep.phase === 'running';
  }

  private get steps(): { value: number } | { error: string } {
    const v = this.stepsText.trim() === '' ? Number.NaN : Number(this.stepsText);
    if (!Number.isInteger(v) || v < 1 || v > PANEL_MAX_STEPS) return { error: `steps must be a whole number from 1 to ${PANEL_MAX_STEPS}` };
    return { value: v };
  }

  /** The run the experiments start from, or why there is none. */
  private baseRun(): { config: EngineRunConfig } | { error: string } {
    const steps = this.steps;
    if ('error' in steps) return steps;
    return runConfigFor(this.planConfig, steps.value, SEED);
  }

  /** Why Run is disabled, or null. */
  private engineBlocker(): string | null {
    if (!this.engine || this.engineStatus === 'connecting') return 'Waiting for the GPU engine to start…';
    if (this.engineStatus === 'error') return 'No GPU engine: see the status above.';
    return null;
  }

  /** For a GPT: why this config is too big for the adapter (null when it fits, or for the mlp). */
  private tooBig(c: EngineRunConfig): string | null {
    if (c.model !== 'gpt') return null;
    const adapter = this.adapter ?? this.adapterConsumer.adapter;
    if (!adapter) return 'the adapter is not known yet, so its size cannot be checked';
    let over;
    try {
      over = checkFit(c, deviceBudget(adapter)).over;
    } catch (e) {
      return failureOf(e).message;
    }
    const first = over[0];
    if (!first) return null;
    const amount = first.limit === 'compute budget' ? `${formatInteger(first.needed)} FLOP` : formatBytes(first.needed);
    return `too big for this device: ${first.what} needs ${amount}, over the ${first.limit}; make the planner's model smaller`;
  }

  private job(id: string, label: string, made: { config: EngineRunConfig } | { error: string }, value?: number): ExperimentJob {
    if ('error' in made) return { id, label, value, config: null, skip: made.error };
    const big = this.tooBig(made.config);
    return big ? { id, label, value, config: null, skip: big } : { id, label, value, config: made.config };
  }

  private tradeoffJobs(base: EngineRunConfig): ExperimentJob[] {
    const modes = tradeoffModes(base).filter((m) => !this.excludedModes.has(m));
    const precisions = this.crossPrecision ? CROSS_PRECISIONS : [base.precision];
    return precisions.flatMap((precision) =>
      modes.map((mode) => {
        const id = this.crossPrecision ? `${mode}-${precision}` : mode;
        const label = this.crossPrecision ? `${mode}, ${precision}` : mode;
        return this.job(id, label, withSetting(base, { checkpoint: mode, precision }));
      }),
    );
  }

  private sweepJobs(base: EngineRunConfig, key: SweepKey, values: number[]): ExperimentJob[] {
    return values.map((v) => this.job(String(v), `${key} ${v}`, withSetting(base, { [key]: v }), v));
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

  private dispatchDone(view: ExperimentView, points: ExperimentPoint[]): void {
    this.dispatchEvent(new CustomEvent<ExperimentDoneDetail>('vl-experiment-done', { detail: { view, points }, bubbles: true, composed: true }));
  }

  override render() {
    return html`
      <h2 id="experiments-heading">Experiments</h2>
      <p class="muted">
        Real runs of the planner's model with one setting changed at a time, drawn against the planner's estimate for this engine
        (framework vramlab). Runs go one after another; seed ${SEED}.
      </p>
      <div class="controls">
        <label
          >steps per run
          <input
            type="number"
            min="1"
            max=${PANEL_MAX_STEPS}
            data-testid="experiments-steps"
            .value=${this.stepsText}
            ?disabled=${this.busy}
            @input=${this.handleStepsInput}
        /></label>
      </div>
      <div role="tablist" part="tabs" aria-labelledby="experiments-heading" @keydown=${this.handleTabKeydown}>
        ${EXPERIMENT_VIEWS.map(
          (v) => html`<button
            role="tab"
            id="tab-${v}"
            data-testid="experiments-tab-${v}"
            aria-selected=${this.view === v ? 'true' : 'false'}
            aria-controls="panel-${v}"
            tabindex=${this.view === v ? 0 : -1}
            data-view=${v}
            @click=${this.handleTabClick}
          >
            ${VIEW_LABELS[v]}
          </button>`,
        )}
      </div>
      <div role="tabpanel" id="panel-tradeoff" aria-labelledby="tab-tradeoff" ?hidden=${this.view !== 'tradeoff'}>${this.renderTradeoff()}</div>
      <div role="tabpanel" id="panel-sweep" aria-labelledby="tab-sweep" ?hidden=${this.view !== 'sweep'}>${this.renderSweep()}</div>
    `;
  }

  private renderProgress(ctl: ExperimentController, unit: string, testid: string) {
    const n = ctl.points.length;
    let text = '';
    if (ctl.phase === 'running') {
      const p = ctl.points[ctl.current];
      const pr = ctl.progress;
      const stage = !pr ? '' : pr.stage === 'allocating' ? 'allocating' : pr.stage === 'done' ? 'finishing' : `step ${pr.step} of ${pr.steps}`;
      text = p ? `${unit} ${ctl.current + 1}/${n} (${p.label}): ${stage}${ctl.cancelling ? '; cancelling…' : ''}` : 'starting…';
    } else if (ctl.phase === 'done') {
      const failed = ctl.points.filter((p) => p.status !== 'done').length;
      text = `Done: ${n - failed} of ${n} ran${failed ? `; ${failed} did not (see the table)` : ''}.`;
    } else if (ctl.phase === 'cancelled') {
      text = 'Cancelled; nothing is left allocated.';
    }
    return html`<p role="status" class="muted" data-testid=${testid} data-phase=${ctl.phase} data-finished=${ctl.finished}>${text}</p>`;
  }

  private renderRunButtons(ctl: ExperimentController, runTestid: string, label: string, onRun: () => void, disabledWhy: string | null) {
    return html`<div class="controls">
      <button type="button" data-testid=${runTestid} ?disabled=${this.busy || disabledWhy !== null} @click=${onRun}>${label}</button>
      <button type="button" data-testid="${runTestid}-cancel" ?disabled=${ctl.phase !== 'running' || ctl.cancelling} @click=${() => void ctl.cancel()}>
        Cancel
      </button>
      ${disabledWhy && !this.busy ? html`<span class="muted" data-testid="${runTestid}-why">${disabledWhy}</span>` : nothing}
    </div>`;
  }

  private renderTradeoff() {
    const base = this.baseRun();
    if ('error' in base) return html`<p class="error" data-testid="tradeoff-error">${base.error}</p>`;
    const modes = tradeoffModes(base.config);
    const chosen = modes.filter((m) => !this.excludedModes.has(m));
    const why = this.engineBlocker() ?? (chosen.length === 0 ? 'Choose at least one mode.' : null);
    const ctl = this.tradeoff;
    const done = ctl.points.filter((p) => p.report);
    const points: ScatterPoint[] = done.flatMap((p) => {
      const r = p.report!;
      const x = r.timing.stepMs;
      const est = p.estimate?.peak.bytes ?? r.estimate.peak.bytes;
      return [
        { x, y: est, tone: 'estimate', shape: 'ring', title: `${p.label}: estimated peak ${formatBytes(est)}` },
        { x, y: r.actual.peakBytes, tone: 'measured', shape: 'dot', label: p.label, title: `${p.label}: measured peak ${formatBytes(r.actual.peakBytes)} at ${formatMs(x)} a step` },
      ] satisfies ScatterPoint[];
    });
    const series: ScatterSeries[] = [
      { tone: 'measured', shape: 'dot', label: 'measured peak' },
      { tone: 'estimate', shape: 'ring', label: 'estimated peak (same step time)' },
    ];
    return html`
      <p class="muted">
        Runs the config once per checkpointing mode: less memory for activations, paid for in recomputation. Base:
        ${base.config.model === 'gpt' ? `gpt, ${base.config.attention} attention` : 'mlp'}, ${base.config.precision}.
      </p>
      <div class="controls">
        <fieldset ?disabled=${this.busy}>
          <legend>modes</legend>
          ${modes.map(
            (m) => html`<label
              ><input
                type="checkbox"
                data-testid="tradeoff-mode-${m}"
                data-mode=${m}
                .checked=${!this.excludedModes.has(m)}
                @change=${this.handleModeToggle}
              />${m}</label
            >`,
          )}
        </fieldset>
        <label class="inline"
          ><input type="checkbox" data-testid="tradeoff-cross" .checked=${this.crossPrecision} ?disabled=${this.busy} @change=${this.handleCrossToggle} />×
          precision fp32 / amp-bf16</label
        >
      </div>
      ${this.renderRunButtons(ctl, 'tradeoff-run', 'Run under each checkpointing mode', this.handleTradeoffRun, why)}
      ${this.renderProgress(ctl, 'mode', 'tradeoff-status')}
      ${points.length > 0
        ? html`<vl-scatter-chart
            part="chart"
            data-testid="tradeoff-chart"
            .series=${series}
            .points=${points}
            xLabel="measured step time (ms, median after the first step)"
            .formatX=${(v: number) => msFormat.format(v)}
            label=${`Measured peak memory against step time per checkpointing mode: ${done
              .map((p) => `${p.label} ${formatBytes(p.report!.actual.peakBytes)} at ${formatMs(p.report!.timing.stepMs)}`)
              .join('; ')}.`}
          ></vl-scatter-chart>`
        : nothing}
      ${ctl.points.length > 0
        ? html`<table part="table" data-testid="tradeoff-table">
            <thead>
              <tr>
                <th scope="col">mode</th>
                <th scope="col">estimated peak</th>
                <th scope="col">measured peak</th>
                <th scope="col">step</th>
                <th scope="col">recompute</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              ${ctl.points.map((p) => {
                const r = p.report;
                return html`<tr
                  data-testid="tradeoff-point-${p.id}"
                  data-status=${p.status}
                  data-estimated=${p.estimate?.peak.bytes ?? ''}
                  data-peak=${r ? r.actual.peakBytes : ''}
                  data-ms=${r ? r.timing.stepMs : ''}
                >
                  <th scope="row">${p.label}</th>
                  <td>${p.estimate ? formatBytes(p.estimate.peak.bytes) : '—'}</td>
                  <td>${r ? formatBytes(r.actual.peakBytes) : '—'}</td>
                  <td>${r ? formatMs(r.timing.stepMs) : '—'}</td>
                  <td>${r ? formatMs(r.timing.phasesMs.recompute) : '—'}</td>
                  <td class="status ${p.failure && p.status !== 'cancelled' ? 'fail' : ''}">${this.statusText(p)}</td>
                </tr>`;
              })}
            </tbody>
          </table>`
        : nothing}
    `;
  }

  private renderSweep() {
    const base = this.baseRun();
    if ('error' in base) return html`<p class="error" data-testid="sweep-error">${base.error}</p>`;
    const keys = sweepKeys(base.config);
    const key = keys.includes(this.sweepKey) ? this.sweepKey : 'batch';
    const parsed = parseSweepValues(this.sweepText, key);
    const why = this.engineBlocker() ?? ('error' in parsed ? 'Fix the values first.' : null);
    const ctl = this.sweep;
    const curve = 'values' in parsed ? this.estimateCurve(base.config, key, parsed.values) : [];
    const curves: ScatterCurve[] = [
      { tone: 'estimate', shape: 'line', points: curve.map((c) => [c.x, c.peak] as const) },
      { tone: 'estimateActivations', shape: 'dashed', points: curve.map((c) => [c.x, c.activations] as const) },
    ];
    const swept = ctl.points.filter((p) => p.report && p.value !== undefined);
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
          <select data-testid="sweep-key" .value=${key} ?disabled=${this.busy} @change=${this.handleSweepKey}>
            ${keys.map((k) => html`<option value=${k} ?selected=${k === key}>${k}</option>`)}
          </select></label
        >
        <label
          >values (${SWEEP_MIN_POINTS}–${SWEEP_MAX_POINTS}, comma-separated)
          <input
            class="values"
            data-testid="sweep-values"
            .value=${this.sweepText}
            ?disabled=${this.busy}
            aria-invalid=${'error' in parsed ? 'true' : 'false'}
            aria-describedby=${'error' in parsed ? errorId : nothing}
            @input=${this.handleSweepValues}
        /></label>
      </div>
      ${'error' in parsed ? html`<p class="error" id=${errorId} data-testid="sweep-values-error">${parsed.error}</p>` : nothing}
      ${this.renderRunButtons(ctl, 'sweep-run', `Run the sweep over ${key}`, this.handleSweepRun, why)}
      ${this.renderProgress(ctl, 'point', 'sweep-status')}
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
      ${ctl.points.length > 0
        ? html`<table part="table" data-testid="sweep-table">
            <thead>
              <tr>
                <th scope="col">${ctl.points[0]!.label.split(' ')[0]}</th>
                <th scope="col">estimated peak</th>
                <th scope="col">measured peak</th>
                <th scope="col">estimated activations</th>
                <th scope="col">measured activations</th>
                <th scope="col">step</th>
                <th scope="col">status</th>
              </tr>
            </thead>
            <tbody>
              ${ctl.points.map((p) => {
                const r = p.report;
                return html`<tr
                  data-testid="sweep-point-${p.id}"
                  data-status=${p.status}
                  data-estimated=${p.estimate?.peak.bytes ?? ''}
                  data-measured=${r ? r.actual.peakBytes : ''}
                >
                  <th scope="row">${formatInteger(p.value ?? 0)}</th>
                  <td>${p.estimate ? formatBytes(p.estimate.peak.bytes) : '—'}</td>
                  <td>${r ? formatBytes(r.actual.peakBytes) : '—'}</td>
                  <td>${p.estimate ? formatBytes(p.estimate.bytes.activations) : '—'}</td>
                  <td>${r ? formatBytes(r.actual.bytes.activations) : '—'}</td>
                  <td>${r ? formatMs(r.timing.stepMs) : '—'}</td>
                  <td class="status ${p.failure && p.status !== 'cancelled' ? 'fail' : ''}">${this.statusText(p)}</td>
                </tr>`;
              })}
            </tbody>
          </table>`
        : nothing}
    `;
  }

  private statusText(p: ExperimentPoint): string {
    if (p.status === 'done' && p.report && p.estimate) {
      const d = p.report.actual.peakBytes - p.estimate.peak.bytes;
      return d === 0 ? 'exact' : `${d > 0 ? '+' : '−'}${formatInteger(Math.abs(d))} B vs estimate`;
    }
    if ((p.status === 'failed' || p.status === 'skipped') && p.failure) {
      return `${STATUS_TEXT[p.status]}: ${p.failure.name === 'Skipped' ? '' : `${p.failure.name}: `}${p.failure.message}`;
    }
    return STATUS_TEXT[p.status];
  }

  private readonly handleTabClick = (e: Event): void => {
    const v = (e.currentTarget as HTMLElement).dataset['view'];
    if (v === 'tradeoff' || v === 'sweep') this.view = v;
  };

  /** Arrow keys, Home and End move between tabs and select them (the WAI-ARIA tabs pattern, automatic activation). */
  private readonly handleTabKeydown = (e: KeyboardEvent): void => {
    const i = EXPERIMENT_VIEWS.indexOf(this.view);
    const n = EXPERIMENT_VIEWS.length;
    const next =
      e.key === 'ArrowRight' ? (i + 1) % n : e.key === 'ArrowLeft' ? (i - 1 + n) % n : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    this.view = EXPERIMENT_VIEWS[next]!;
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${this.view}`)?.focus());
  };

  private readonly handleStepsInput = (e: Event): void => {
    this.stepsText = (e.target as HTMLInputElement).value;
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

  private readonly handleSweepKey = (e: Event): void => {
    const k = (e.target as HTMLSelectElement).value;
    if (!(SWEEP_KEYS as readonly string[]).includes(k)) return;
    this.sweepKey = k as SweepKey;
    this.sweepText = SWEEP_DEFAULTS[this.sweepKey];
  };

  private readonly handleSweepValues = (e: Event): void => {
    this.sweepText = (e.target as HTMLInputElement).value;
  };

  private readonly handleTradeoffRun = (): void => {
    const base = this.baseRun();
    if (!this.engine || 'error' in base || this.busy) return;
    void this.tradeoff.start(this.engine, this.tradeoffJobs(base.config));
  };

  private readonly handleSweepRun = (): void => {
    const base = this.baseRun();
    if (!this.engine || 'error' in base || this.busy) return;
    const key = sweepKeys(base.config).includes(this.sweepKey) ? this.sweepKey : 'batch';
    const parsed = parseSweepValues(this.sweepText, key);
    if ('error' in parsed) return;
    void this.sweep.start(this.engine, this.sweepJobs(base.config, key, parsed.values));
  };
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-experiments': VlExperiments;
  }
  interface HTMLElementEventMap {
    'vl-experiment-done': CustomEvent<ExperimentDoneDetail>;
  }
}
