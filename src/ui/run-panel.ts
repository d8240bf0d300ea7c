import { LitElement, css, html, nothing, type ReactiveController, type ReactiveControllerHost } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { styleMap } from 'lit/directives/style-map.js';
import { resolveModel } from '../estimate/presets.ts';
import type { TransformerSpec } from '../estimate/specs.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../protocol/config.ts';
import type { AdapterSummary, EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type PlanCategory } from '../protocol/plan.ts';
import {
  DEFAULT_RUN,
  GPT_CHECKPOINTS,
  GptRunConfigSchema,
  PHASE_NAMES,
  RUN_CHECKPOINTS,
  RUN_OPTIMIZERS,
  RUN_PRECISIONS,
  RunConfigSchema,
  type GptRunConfig,
  type RunProgress,
} from '../protocol/run.ts';
import { AdapterConsumer, type EngineStatus } from './engine-controller.ts';
import { formatBytes, formatInteger } from './format.ts';
import { formatLoss } from './loss-chart.ts';
import { deviceBudget, planForDevice, refusalOf, type DeviceBudget, type ScalePlan } from './scale.ts';
import './timeline-chart.ts';
import './loss-chart.ts';
import './export-buttons.ts';

/** What the panel needs from the engine: EngineController.run and the worker's cancel(). */
export interface RunEngine {
  run(config: EngineRunConfig, onProgress: (p: RunProgress) => void): Promise<EngineRunReport>;
  cancel(): Promise<void>;
}

/** The page offers at most this many steps (the engine takes up to RUN_LIMITS.steps from the CLI). */
export const PANEL_MAX_STEPS = 1000;

/** The models the engine runs, named for a user who picked another one. */
export const RUNNABLE_MODELS_MESSAGE =
  'The engine runs the mlp model and GPT-2-style decoders (gpt-nano, gpt2-small, gpt2-medium, gpt2-large, gpt2-xl or an imported GPT-2 config.json); choose one of those to run it.';
export const CANCELLED_MESSAGE = 'Cancelled; nothing is left allocated.';

const TIMING_SOURCES: Record<EngineRunReport['timing']['source'], string> = {
  'timestamp-query': 'GPU timestamp queries',
  'wall-clock': 'wall clock',
};

/** "a, b or c" */
function orList(xs: readonly string[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

const includes = <T extends string>(xs: readonly T[], v: string): v is T => (xs as readonly string[]).includes(v);

/** Which engine model the plan maps to: the mlp, a gpt2-family decoder (preset or imported config.json), or none. */
export type RunnableModel = { kind: 'mlp' } | { kind: 'gpt'; spec: TransformerSpec } | null;

export function runnableModel(c: PlanConfig): RunnableModel {
  if (c.model === 'mlp') return { kind: 'mlp' };
  let spec;
  try {
    spec = resolveModel(c);
  } catch {
    return null; // An unknown model or a bad config.json: the form says why.
  }
  return spec.kind === 'transformer' && spec.family === 'gpt2' ? { kind: 'gpt', spec } : null;
}

/**
 * Why the engine cannot run this plan, one sentence each; empty when it can. Only what would
 * make the run a different experiment from the plan blocks it; settings the engine ignores
 * are listed by ignoredSettings().
 */
export function runBlockers(c: PlanConfig): string[] {
  const model = runnableModel(c);
  if (!model) return [RUNNABLE_MODELS_MESSAGE];
  const out: string[] = [];
  if (c.mode !== 'train') out.push('mode inference: the engine runs training steps; choose mode train.');
  if (!includes(RUN_PRECISIONS, c.precision)) out.push(`precision ${c.precision}: the engine runs ${orList(RUN_PRECISIONS)}.`);
  if (!includes(RUN_OPTIMIZERS, c.optimizer)) out.push(`optimizer ${c.optimizer}: the engine runs ${orList(RUN_OPTIMIZERS)}.`);
  const checkpoints = model.kind === 'mlp' ? RUN_CHECKPOINTS : GPT_CHECKPOINTS;
  if (!includes(checkpoints, c.checkpoint)) out.push(`checkpointing ${c.checkpoint}: the engine runs ${orList(checkpoints)}.`);
  if (model.kind === 'gpt' && model.spec.intermediate !== 4 * model.spec.hidden) {
    out.push(`MLP width ${model.spec.intermediate}: the engine's GPT uses 4 × d-model (${4 * model.spec.hidden}).`);
  }
  return out;
}

/** Plan settings the run does not model (one GPU, full training, the whole batch at once, no dropout). */
export function ignoredSettings(c: PlanConfig): string[] {
  const out: string[] = [];
  if (c.microBatch !== undefined && c.microBatch !== c.batch) out.push(`micro-batch ${c.microBatch}`);
  if (c.loraRank > 0) out.push(`LoRA rank ${c.loraRank}`);
  if (c.qlora) out.push('QLoRA');
  if (c.zero > 0) out.push(`ZeRO stage ${c.zero}`);
  if (c.gpus > 1) out.push(`${c.gpus} GPUs`);
  const model = runnableModel(c);
  if (model?.kind === 'gpt' && model.spec.dropout) out.push('dropout');
  return out;
}

const num = (s: string): number => (s.trim() === '' ? Number.NaN : Number(s));

/** The untrusted object the model's schema checks: the plan's shape and step settings, and the panel's own inputs. */
function rawRunConfig(c: PlanConfig, model: NonNullable<RunnableModel>, steps: string, seed: string): unknown {
  const common = {
    batch: c.batch,
    precision: c.precision,
    optimizer: c.optimizer,
    checkpoint: c.checkpoint,
    steps: num(steps),
    seed: num(seed),
  };
  if (model.kind === 'gpt') {
    return {
      model: 'gpt',
      vocab: model.spec.vocab,
      dModel: model.spec.hidden,
      heads: model.spec.heads,
      layers: model.spec.layers,
      seq: c.seq,
      attention: c.attention,
      ...common,
    };
  }
  return { model: 'mlp', d: c.mlp.d, hidden: c.mlp.hidden, layers: c.mlp.layers, activation: c.mlp.activation, ...common };
}

type FieldErrors = Partial<Record<'steps' | 'seed' | 'config', string>>;
type Validated = { config: EngineRunConfig; errors: null } | { config: null; errors: FieldErrors };

function validate(c: PlanConfig, steps: string, seed: string): Validated {
  const model = runnableModel(c);
  if (!model) return { config: null, errors: { config: RUNNABLE_MODELS_MESSAGE } };
  const raw = rawRunConfig(c, model, steps, seed);
  const r = model.kind === 'gpt' ? GptRunConfigSchema.safeParse(raw) : RunConfigSchema.safeParse(raw);
  const errors: FieldErrors = {};
  if (!r.success) {
    for (const issue of r.error.issues) {
      const field = String(issue.path[0] ?? 'config');
      const key = field === 'steps' || field === 'seed' ? field : 'config';
      errors[key] ??= key === 'config' ? `${field}: ${issue.message}` : issue.message;
    }
  } else if (r.data.steps > PANEL_MAX_STEPS) {
    errors.steps = `steps must be at most ${PANEL_MAX_STEPS} here (the CLI runs more)`;
  }
  return r.success && !errors.steps ? { config: r.data, errors: null } : { config: null, errors };
}

/**
 * The engine run config the panel would run for the planner form's config, with these steps
 * and seed: the same blockers, mapping and schema check as the Run button, or the first reason
 * it cannot run (one sentence). The device check and scaling-down are not applied here: a GPT
 * too big for this adapter comes back at full size.
 */
export function runConfigFor(c: PlanConfig, steps: number, seed: number): { config: EngineRunConfig } | { error: string } {
  const blockers = runBlockers(c);
  if (blockers.length > 0) return { error: blockers[0]! };
  const checked = validate(c, String(steps), String(seed));
  if (checked.config) return { config: checked.config };
  const { steps: stepsError, seed: seedError, config: configError } = checked.errors;
  return { error: configError ?? (stepsError ? `steps: ${stepsError}` : seedError ? `seed: ${seedError}` : 'invalid run settings') };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function describeRun(c: EngineRunConfig): string {
  const tail = `batch ${c.batch}; ${c.precision}; ${c.optimizer}; checkpointing ${c.checkpoint}; ${plural(c.steps, 'step')}, seed ${c.seed}`;
  if (c.model === 'gpt') {
    return `gpt vocab ${c.vocab}, d ${c.dModel}, ${plural(c.heads, 'head')}, ${plural(c.layers, 'layer')}, seq ${c.seq}, ${c.attention} attention; ${tail}`;
  }
  return `mlp d ${c.d}, hidden ${c.hidden}, ${plural(c.layers, 'layer')}, ${c.activation}; ${tail}`;
}

/** "128 MFLOP" */
function formatFlops(f: number): string {
  return f >= 1e9 ? `${formatInteger(Math.round(f / 1e9))} GFLOP` : `${formatInteger(Math.round(f / 1e6))} MFLOP`;
}

/** What the device check decided for a GPT run. */
type DeviceCheck =
  | { kind: 'waiting' }
  | { kind: 'error'; message: string }
  | { kind: 'ok'; budget: DeviceBudget; plan: ScalePlan };

export const RUN_PHASES = ['idle', 'running', 'done', 'failed', 'cancelled'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

/**
 * One run at a time on the host's engine: its progress, its report or its failure. A run in
 * flight when the host leaves the page is cancelled, so the worker frees its buffers.
 */
class RunController implements ReactiveController {
  phase: RunPhase = 'idle';
  progress: RunProgress | null = null;
  report: EngineRunReport | null = null;
  failure: { name: string; message: string } | null = null;
  cancelling = false;
  /** Counts finished runs, so a test (or a person) can tell a new result from the last one. */
  finished = 0;

  private engine: RunEngine | null = null;
  /** Which run the callbacks belong to: a stale run's progress is dropped. */
  private token = 0;

  /** `onReport` hears each new report, and null when a run starts (the last report is gone). */
  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly onReport: (report: EngineRunReport | null) => void,
  ) {
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    if (this.phase === 'running') void this.cancel();
  }

  async start(engine: RunEngine, config: EngineRunConfig): Promise<void> {
    if (this.phase === 'running') return;
    const token = ++this.token;
    this.engine = engine;
    this.phase = 'running';
    this.cancelling = false;
    this.progress = { stage: 'allocating', step: 0, steps: config.steps };
    this.report = null;
    this.failure = null;
    this.host.requestUpdate();
    this.onReport(null);
    try {
      const report = await engine.run(config, (p) => {
        if (token !== this.token) return;
        this.progress = p;
        this.host.requestUpdate();
      });
      if (token !== this.token) return;
      this.report = report;
      this.phase = 'done';
      this.onReport(report);
    } catch (e) {
      if (token !== this.token) return;
      const failure = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
      this.phase = failure.name === 'Cancelled' ? 'cancelled' : 'failed';
      this.failure = failure;
    } finally {
      if (token === this.token) {
        this.finished += 1;
        this.cancelling = false;
        this.host.requestUpdate();
      }
    }
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
}

/** "exact", "+1,024 B", "−12 B": measured minus estimated. */
function difference(measured: number, estimated: number): string {
  const d = measured - estimated;
  if (d === 0) return 'exact';
  return `${d > 0 ? '+' : '−'}${formatInteger(Math.abs(d))} B`;
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

const ms = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

const MiB = 2 ** 20;
const mib = new Intl.NumberFormat('en', { maximumFractionDigits: 4 });

/** The detail of `vl-run-report`: the finished run's report, or null when a new run starts. */
export interface RunReportDetail {
  report: EngineRunReport | null;
}

/** A guess in MiB from the input: a finite number ≥ 0, else null. */
function parseGuess(s: string): number | null {
  const v = num(s);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

const pct = new Intl.NumberFormat('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** "+12.5%", "−3.0%", "exact": (value − measured) / measured; "n/a" when nothing was measured. */
function percentError(value: number, measured: number): string {
  if (measured <= 0) return 'n/a';
  if (value === measured) return 'exact';
  const e = (100 * (value - measured)) / measured;
  return `${e >= 0 ? '+' : '−'}${pct.format(Math.abs(e))}%`;
}

/**
 * Runs the plan's model (the mlp, or a gpt2-family decoder as the engine's GPT) on the page's
 * GPU engine and shows the measurement beside the estimate: per-category bytes and the peak
 * (with their difference), the live-bytes timeline, timing per phase and the loss. The plan
 * comes from the planner form; steps and seed are this panel's own inputs. Before a GPT run
 * the shape is checked against the adapter's limits and a stated budget (scale.ts): one too
 * big runs scaled down (the "run scaled down" box, on by default) or is refused with the limit
 * named. Talks to the engine only through `engine` (no GPU here); the adapter comes from the
 * page's EngineController through ADAPTER_REQUEST, or from the `adapter` property.
 *
 * Before a run the user may type a guess of the peak (MiB) and lock it in; after the run the
 * guess is shown beside the estimate and the measurement, each with its error in %.
 *
 * @fires vl-run-report - {RunReportDetail} a run finished with a report, or (report: null) a new run started
 *
 * @csspart progress - the progress bar
 * @csspart result - the result section
 * @csspart table - the estimate-vs-measured table
 */
@customElement('vl-run-panel')
export class VlRunPanel extends LitElement {
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
    .controls {
      display: flex;
      flex-wrap: wrap;
      align-items: start;
      gap: 0.5rem 0.9rem;
    }
    .field {
      display: grid;
      gap: 0.15rem;
      font-size: 0.85rem;
      width: 8rem;
    }
    .field .error {
      font-size: 0.8rem;
    }
    .buttons {
      display: flex;
      gap: 0.5rem;
      align-self: end;
      padding-bottom: 0.1rem;
    }
    input {
      font: inherit;
      padding: 0.25rem 0.35rem;
      color: inherit;
      background: transparent;
      border: 1px solid var(--vl-border, #aaa);
      border-radius: 4px;
    }
    [aria-invalid='true'] {
      border-color: var(--vl-error, #b00020);
    }
    button {
      font: inherit;
      padding: 0.3rem 1rem;
      border-radius: 4px;
      border: 1px solid var(--vl-accent, #0b57d0);
      background: var(--vl-accent, #0b57d0);
      color: var(--vl-bg, #fff);
      cursor: pointer;
    }
    button.secondary {
      background: transparent;
      color: var(--vl-accent, #0b57d0);
    }
    button:disabled {
      opacity: 0.5;
      cursor: not-allowed;
    }
    input:focus-visible,
    button:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
    .error {
      color: var(--vl-error, #b00020);
      font-weight: 600;
      margin: 0.3rem 0;
      overflow-wrap: anywhere;
    }
    .scaled {
      color: var(--vl-warn-fg, #664d03);
    }
    .toggle {
      display: inline-flex;
      gap: 0.35rem;
      align-items: center;
      font-size: 0.9rem;
    }
    .blocked {
      color: var(--vl-warn-fg, #664d03);
      background: var(--vl-warn-bg, #fff3cd);
      padding: 0.4rem 0.6rem;
      border-radius: 6px;
    }
    .bar {
      height: 0.6rem;
      border-radius: 3px;
      background: var(--vl-border, #ddd);
      overflow: hidden;
      margin: 0.5rem 0 0.2rem;
    }
    .bar > div {
      height: 100%;
      background: var(--vl-accent, #0b57d0);
      transition: width 0.15s;
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
    .guess {
      display: flex;
      flex-wrap: wrap;
      align-items: end;
      gap: 0.4rem 0.9rem;
      margin-top: 0.5rem;
    }
    .guess .field {
      width: 13rem;
    }
    .guess .note {
      font-size: 0.85rem;
      flex: 1 1 14rem;
    }
    dd {
      margin: 0;
      font-variant-numeric: tabular-nums;
    }
  `;

  /** The planner form's last valid config. */
  @property({ attribute: false }) planConfig: PlanConfig = DEFAULT_PLAN;
  /** Set while the form holds an invalid edit: planConfig is then out of date. */
  @property({ type: Boolean }) formInvalid = false;
  @property({ attribute: false }) engine: RunEngine | null = null;
  @property() engineStatus: EngineStatus = 'connecting';
  /** The engine's failure sentence when engineStatus is 'error'. */
  @property() engineError = '';
  /** The adapter whose limits bound a GPT run; when unset, the one the page's EngineController reports. */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;

  /** Run a GPT that does not fit this device scaled down (true) or refuse it (false). */
  @state() private scaleDown = true;

  @state() private steps = String(DEFAULT_RUN.steps);
  @state() private seed = String(DEFAULT_RUN.seed);

  /** The guess input's text (MiB). */
  @state() private guessText = '';
  /** The locked-in guess (MiB) for the next run; null when none is locked. */
  @state() private lockedGuess: number | null = null;
  /** The guess (MiB) the shown run was started with; null when it had none. */
  @state() private runGuess: number | null = null;

  private readonly runs = new RunController(this, (report) => this.handleRunReport(report));
  private readonly provided = new AdapterConsumer(this);
  /** The last device check, by config and adapter: estimating a 48-layer model per keystroke is wasteful. */
  private checkCache: { config: GptRunConfig; adapter: AdapterSummary; result: DeviceCheck } | null = null;

  private get currentAdapter(): AdapterSummary | null {
    return this.adapter ?? this.provided.adapter;
  }

  /** The device check for a GPT config: waiting for the adapter, the estimate's error, or the scale plan. */
  private deviceCheck(config: GptRunConfig): DeviceCheck {
    const adapter = this.currentAdapter;
    if (!adapter) return { kind: 'waiting' };
    const cached = this.checkCache;
    if (cached && cached.adapter === adapter && JSON.stringify(cached.config) === JSON.stringify(config)) return cached.result;
    let result: DeviceCheck;
    const budget = deviceBudget(adapter);
    try {
      result = { kind: 'ok', budget, plan: planForDevice(config, budget) };
    } catch (e) {
      result = { kind: 'error', message: e instanceof Error ? e.message : String(e) };
    }
    this.checkCache = { config, adapter, result };
    return result;
  }

  /** The config Run starts, after the device check; null with the reason when none may start. */
  private toRun(checked: Validated | null): { config: EngineRunConfig; refusal: null } | { config: null; refusal: string | null } {
    const config = checked?.config;
    if (!config) return { config: null, refusal: null };
    if (config.model !== 'gpt') return { config, refusal: null };
    const check = this.deviceCheck(config);
    if (check.kind === 'waiting') return { config: null, refusal: null };
    if (check.kind === 'error') return { config: null, refusal: check.message };
    const { plan, budget } = check;
    if (plan.kind === 'fits') return { config: plan.config, refusal: null };
    if (plan.kind === 'scaled' && this.scaleDown) return { config: plan.config, refusal: null };
    return { config: null, refusal: refusalOf(plan, budget) };
  }

  override render() {
    const blockers = runBlockers(this.planConfig);
    const checked = blockers.length === 0 ? validate(this.planConfig, this.steps, this.seed) : null;
    const errors = checked?.errors ?? {};
    const running = this.runs.phase === 'running';
    const chosen = this.toRun(checked);
    const why = this.whyDisabled(blockers, checked, chosen.refusal);
    const model = blockers.length === 0 ? runnableModel(this.planConfig) : null;
    return html`
      <section aria-labelledby="run-heading" data-testid="run-panel" data-phase=${this.runs.phase} data-finished=${this.runs.finished}>
        <h2 id="run-heading">Run it on this GPU</h2>
        <p class="muted">
          Trains the planned ${model?.kind === 'gpt' ? 'GPT' : 'mlp'} for a few steps in a worker and compares the ledger with the planner's estimate for this
          engine (predict for: vramlab)${this.planConfig.framework === 'pytorch' ? ', not the PyTorch prediction above' : ''}.
        </p>
        ${blockers.length > 0
          ? html`<div class="blocked" data-testid="run-blocked">${blockers.map((b) => html`<p>${b}</p>`)}</div>`
          : nothing}
        ${blockers.length === 0 && ignoredSettings(this.planConfig).length > 0
          ? html`<p class="muted" data-testid="run-ignored">The run uses one GPU and the whole batch at once; it ignores ${orList(ignoredSettings(this.planConfig))}.</p>`
          : nothing}
        <div class="controls">
          ${this.renderNumber('steps', 'steps', this.steps, 1, PANEL_MAX_STEPS, errors.steps)}
          ${this.renderNumber('seed', 'seed', this.seed, 0, 2 ** 32 - 1, errors.seed)}
          <div class="buttons">
            <button
              type="button"
              data-testid="run-button"
              ?disabled=${why !== '' || running}
              aria-describedby=${why ? 'run-why' : nothing}
              @click=${this.handleRun}
            >
              Run
            </button>
            <button
              type="button"
              class="secondary"
              data-testid="cancel-button"
              ?disabled=${!running || this.runs.cancelling}
              @click=${this.handleCancel}
            >
              ${this.runs.cancelling ? 'Cancelling…' : 'Cancel'}
            </button>
          </div>
        </div>
        ${this.renderGuess(running)}
        ${errors.config ? html`<p class="error" data-testid="run-config-error">${errors.config}</p>` : nothing}
        ${checked?.config?.model === 'gpt' ? this.renderDeviceCheck(checked.config) : nothing}
        ${chosen.refusal
          ? html`<p class="blocked" id="run-why" role="status" data-testid="run-refused">${chosen.refusal}</p>`
          : why && !errors.config && blockers.length === 0
            ? html`<p class="muted" id="run-why" data-testid="run-why">${why}</p>`
            : nothing}
        ${this.renderStatus()} ${this.runs.report ? this.renderReport(this.runs.report) : nothing}
      </section>
    `;
  }

  /** An empty string when Run may be pressed; otherwise the reason, for the button's description. */
  private whyDisabled(blockers: string[], checked: Validated | null, refusal: string | null): string {
    if (blockers.length > 0) return blockers[0]!;
    if (this.formInvalid) return 'Fix the planner form first; the run uses its settings.';
    if (!checked?.config) return 'Fix the run settings first.';
    if (!this.engine || this.engineStatus === 'connecting') return 'Waiting for the GPU engine to start…';
    if (this.engineStatus === 'error') return `No GPU engine: ${this.engineError || 'it failed to start'}`;
    if (refusal) return refusal;
    // No GPT run starts before its shape is checked against the adapter's limits.
    if (checked.config.model === 'gpt' && !this.currentAdapter) return 'Waiting for the adapter’s limits to check the model against…';
    return '';
  }

  /** The budget this device is held to, and what the check decided: fits, scaled down (with the toggle), or nothing to add. */
  private renderDeviceCheck(config: GptRunConfig) {
    const check = this.deviceCheck(config);
    if (check.kind !== 'ok') return nothing;
    const { budget, plan } = check;
    const binding = Math.min(budget.maxStorageBufferBindingSize, budget.maxBufferSize);
    const budgetLine = html`<p class="muted" data-testid="run-budget">
      Budget on this device: a peak of at most ${formatBytes(budget.memoryBytes)} and about ${formatFlops(budget.stepFlops)} per step
      (${budget.software ? 'a software adapter; 4 GiB on a GPU' : 'a GPU; 1 GiB on a software adapter'}), and no tensor over
      ${formatBytes(binding)} (the adapter's ${budget.maxStorageBufferBindingSize <= budget.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize'}).
    </p>`;
    if (plan.kind === 'fits') {
      return html`${budgetLine}<p class="muted" data-testid="run-fits">
          Fits this device at full size: estimated peak ${formatBytes(plan.check.peakBytes)}, largest tensor ${formatBytes(plan.check.tensor.bytes)}.
        </p>`;
    }
    if (plan.kind === 'refused') return budgetLine;
    return html`${budgetLine}
      <p class="scaled" data-testid="run-scaled" data-factor=${plan.factor}>${plan.message}</p>
      <label class="toggle">
        <input type="checkbox" data-testid="run-scaled-toggle" .checked=${this.scaleDown} @change=${this.handleScaleToggle} />
        run scaled down
      </label>`;
  }

  /** The optional guess: an input in MiB and its lock; locked until the run it belongs to starts. */
  private renderGuess(running: boolean) {
    const locked = this.lockedGuess !== null;
    const valid = parseGuess(this.guessText) !== null;
    const invalid = this.guessText.trim() !== '' && !valid;
    return html`<div class="guess">
      <div class="field">
        <label for="run-guess">your guess of the peak (MiB, optional)</label>
        <input
          id="run-guess"
          name="guess"
          type="number"
          inputmode="decimal"
          step="any"
          min="0"
          data-testid="guess-input"
          .value=${this.guessText}
          ?disabled=${locked || running}
          aria-invalid=${invalid ? 'true' : 'false'}
          aria-describedby="run-guess-note"
          @input=${this.handleGuessInput}
        />
      </div>
      <button type="button" class="secondary" data-testid="lock-guess" ?disabled=${locked || running || !valid} @click=${this.handleLockGuess}>
        ${locked ? 'Guess locked' : 'Lock in guess'}
      </button>
      <span class="muted note" id="run-guess-note" data-testid="guess-note" role="status">
        ${locked
          ? `Locked: ${mib.format(this.lockedGuess!)} MiB. It is compared with the estimate and the measurement after the run.`
          : invalid
            ? 'A guess is a number of MiB, 0 or more.'
            : 'Predict, then measure: lock in a guess before you press Run.'}
      </span>
    </div>`;
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
    </div>`;
  }

  private renderNumber(name: 'steps' | 'seed', label: string, value: string, min: number, max: number, error: string | undefined) {
    const id = `run-${name}`;
    return html`<div class="field">
      <label for=${id}>${label}</label>
      <input
        id=${id}
        name=${name}
        type="number"
        inputmode="numeric"
        step="1"
        min=${min}
        max=${max}
        data-testid=${`run-${name}`}
        .value=${value}
        aria-invalid=${error ? 'true' : 'false'}
        aria-describedby=${`${id}-error`}
        @input=${this.handleInput}
      />
      <span class="error" id=${`${id}-error`} data-testid=${`run-${name}-error`}>${error ?? ''}</span>
    </div>`;
  }

  private renderStatus() {
    const { phase, progress, failure } = this.runs;
    if (phase === 'running' && progress) {
      const pct = progress.steps > 0 ? (100 * progress.step) / progress.steps : 0;
      const text =
        progress.stage === 'allocating'
          ? `allocating, ${progress.steps} step${progress.steps === 1 ? '' : 's'} to run`
          : `step ${progress.step}/${progress.steps}${progress.loss !== undefined ? `, loss ${formatLoss(progress.loss)}` : ''}`;
      return html`<div data-testid="run-progress">
        <div
          part="progress"
          class="bar"
          role="progressbar"
          aria-label="training steps"
          aria-valuemin="0"
          aria-valuemax=${progress.steps}
          aria-valuenow=${progress.step}
          aria-valuetext=${text}
        >
          <div style=${styleMap({ width: `${pct}%` })}></div>
        </div>
        <p class="muted" data-testid="run-progress-text">${text}</p>
      </div>`;
    }
    if (phase === 'cancelled') return html`<p role="status" data-testid="run-cancelled">${CANCELLED_MESSAGE}</p>`;
    if (phase === 'failed' && failure) return html`<p class="error" role="alert" data-testid="run-error" data-error=${failure.name}>${failure.message}</p>`;
    return nothing;
  }

  private renderReport(r: EngineRunReport) {
    const est = r.estimate;
    const act = r.actual;
    const cats = PLAN_CATEGORIES.filter((c) => est.bytes[c] > 0 || act.bytes[c] > 0);
    const lossFirst = r.loss[0];
    const lossLast = r.loss[r.loss.length - 1];
    return html`<section part="result" data-testid="run-result" data-run=${this.runs.finished} aria-labelledby="result-heading">
      <h3 id="result-heading">Estimate vs measured</h3>
      <p class="muted" data-testid="run-config">${describeRun(r.config)}, on ${r.adapter.description || r.adapter.vendor || 'this adapter'}${r.adapter.isFallbackAdapter ? ' (a software adapter)' : ''}.</p>
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
      <p data-testid="peak-at">
        Peak by the estimate: in ${est.peak.phase}, at ${est.peak.at}. Measured peak: at ${measuredPeakAt(r)}.
      </p>
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

      ${this.runGuess !== null ? this.renderGuessResult(r, this.runGuess) : nothing}

      <h3>Live bytes over the last step</h3>
      <vl-timeline-chart
        data-testid="timeline-chart"
        .measured=${r.timeline}
        .estimate=${est.timeline}
        .measuredPeak=${act.peakBytes}
        .estimatedPeak=${est.peak.bytes}
      ></vl-timeline-chart>

      <h3>Time per step</h3>
      <p>
        Measured with <strong data-testid="timing-source" data-source=${r.timing.source}>${TIMING_SOURCES[r.timing.source]}</strong>; median
        over the steps after the first (which compiles the pipelines).
      </p>
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
      <p>
        Recording a step's commands took <strong data-testid="timing-record">${ms.format(r.timing.recordMs)} ms</strong> of CPU time (JavaScript
        and the browser's WebGPU calls), part of the whole step: on a fast GPU it sets the floor of a step's time.
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
    </section>`;
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

  private handleInput(e: Event): void {
    const input = e.target as HTMLInputElement;
    if (input.name === 'steps') this.steps = input.value;
    else if (input.name === 'seed') this.seed = input.value;
  }

  private handleRun(): void {
    if (!this.engine || runBlockers(this.planConfig).length > 0) return;
    const checked = validate(this.planConfig, this.steps, this.seed);
    const chosen = this.toRun(checked);
    if (!chosen.config || this.whyDisabled([], checked, chosen.refusal) !== '') return;
    // The locked guess belongs to this run; the input is free again for the next one.
    this.runGuess = this.lockedGuess;
    this.lockedGuess = null;
    void this.runs.start(this.engine, chosen.config);
  }

  private handleGuessInput(e: Event): void {
    this.guessText = (e.target as HTMLInputElement).value;
  }

  private handleLockGuess(): void {
    const guess = parseGuess(this.guessText);
    if (guess !== null) this.lockedGuess = guess;
  }

  private handleRunReport(report: EngineRunReport | null): void {
    this.dispatchEvent(new CustomEvent<RunReportDetail>('vl-run-report', { detail: { report }, bubbles: true, composed: true }));
  }

  private handleScaleToggle(e: Event): void {
    this.scaleDown = (e.target as HTMLInputElement).checked;
  }

  private handleCancel(): void {
    void this.runs.cancel();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-run-panel': VlRunPanel;
  }
}
