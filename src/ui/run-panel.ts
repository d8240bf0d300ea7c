import { LitElement, css, html, nothing, type ReactiveController, type ReactiveControllerHost } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { styleMap } from 'lit/directives/style-map.js';
import { DEFAULT_PLAN, type PlanConfig } from '../protocol/config.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type PlanCategory } from '../protocol/plan.ts';
import {
  DEFAULT_RUN,
  PHASE_NAMES,
  RUN_CHECKPOINTS,
  RUN_OPTIMIZERS,
  RUN_PRECISIONS,
  RunConfigSchema,
  type RunConfig,
  type RunProgress,
  type RunReport,
} from '../protocol/run.ts';
import type { EngineStatus } from './engine-controller.ts';
import { formatBytes, formatInteger } from './format.ts';
import { formatLoss } from './loss-chart.ts';
import './timeline-chart.ts';
import './loss-chart.ts';

/** What the panel needs from the engine: EngineController.run and the worker's cancel(). */
export interface RunEngine {
  run(config: RunConfig, onProgress: (p: RunProgress) => void): Promise<RunReport>;
  cancel(): Promise<void>;
}

/** The page offers at most this many steps (the engine takes up to RUN_LIMITS.steps from the CLI). */
export const PANEL_MAX_STEPS = 1000;

export const NOT_MLP_MESSAGE = 'The engine runs the mlp model today; choose model mlp to run it.';
export const CANCELLED_MESSAGE = 'Cancelled; nothing is left allocated.';

const TIMING_SOURCES: Record<RunReport['timing']['source'], string> = {
  'timestamp-query': 'GPU timestamp queries',
  'wall-clock': 'wall clock',
};

/** "a, b or c" */
function orList(xs: readonly string[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

const includes = <T extends string>(xs: readonly T[], v: string): v is T => (xs as readonly string[]).includes(v);

/**
 * Why the engine cannot run this plan, one sentence each; empty when it can. Only what would
 * make the run a different experiment from the plan blocks it; settings the engine ignores
 * are listed by ignoredSettings().
 */
export function runBlockers(c: PlanConfig): string[] {
  if (c.model !== 'mlp') return [NOT_MLP_MESSAGE];
  const out: string[] = [];
  if (c.mode !== 'train') out.push('mode inference: the engine runs training steps; choose mode train.');
  if (!includes(RUN_PRECISIONS, c.precision)) out.push(`precision ${c.precision}: the engine runs ${orList(RUN_PRECISIONS)}.`);
  if (!includes(RUN_OPTIMIZERS, c.optimizer)) out.push(`optimizer ${c.optimizer}: the engine runs ${orList(RUN_OPTIMIZERS)}.`);
  if (!includes(RUN_CHECKPOINTS, c.checkpoint)) out.push(`checkpointing ${c.checkpoint}: the engine runs ${orList(RUN_CHECKPOINTS)}.`);
  return out;
}

/** Plan settings the run does not model (one GPU, full training, the whole batch at once). */
export function ignoredSettings(c: PlanConfig): string[] {
  const out: string[] = [];
  if (c.microBatch !== undefined && c.microBatch !== c.batch) out.push(`micro-batch ${c.microBatch}`);
  if (c.loraRank > 0) out.push(`LoRA rank ${c.loraRank}`);
  if (c.qlora) out.push('QLoRA');
  if (c.zero > 0) out.push(`ZeRO stage ${c.zero}`);
  if (c.gpus > 1) out.push(`${c.gpus} GPUs`);
  return out;
}

/** The untrusted object RunConfigSchema checks: the plan's mlp shape and step settings, and the panel's own inputs. */
function rawRunConfig(c: PlanConfig, steps: string, seed: string): unknown {
  const num = (s: string): number => (s.trim() === '' ? Number.NaN : Number(s));
  return {
    model: 'mlp',
    d: c.mlp.d,
    hidden: c.mlp.hidden,
    layers: c.mlp.layers,
    activation: c.mlp.activation,
    batch: c.batch,
    precision: c.precision,
    optimizer: c.optimizer,
    checkpoint: c.checkpoint,
    steps: num(steps),
    seed: num(seed),
  };
}

type Validated = { config: RunConfig; errors: null } | { config: null; errors: Partial<Record<'steps' | 'seed' | 'config', string>> };

function validate(c: PlanConfig, steps: string, seed: string): Validated {
  const r = RunConfigSchema.safeParse(rawRunConfig(c, steps, seed));
  const errors: Partial<Record<'steps' | 'seed' | 'config', string>> = {};
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

function describeRun(c: RunConfig): string {
  return `mlp d ${c.d}, hidden ${c.hidden}, ${c.layers} layer${c.layers === 1 ? '' : 's'}, ${c.activation}; batch ${c.batch}; ${c.precision}; ${c.optimizer}; checkpointing ${c.checkpoint}; ${c.steps} step${c.steps === 1 ? '' : 's'}, seed ${c.seed}`;
}

export const RUN_PHASES = ['idle', 'running', 'done', 'failed', 'cancelled'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

/**
 * One run at a time on the host's engine: its progress, its report or its failure. A run in
 * flight when the host leaves the page is cancelled, so the worker frees its buffers.
 */
class RunController implements ReactiveController {
  phase: RunPhase = 'idle';
  progress: RunProgress | null = null;
  report: RunReport | null = null;
  failure: { name: string; message: string } | null = null;
  cancelling = false;
  /** Counts finished runs, so a test (or a person) can tell a new result from the last one. */
  finished = 0;

  private engine: RunEngine | null = null;
  /** Which run the callbacks belong to: a stale run's progress is dropped. */
  private token = 0;

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    if (this.phase === 'running') void this.cancel();
  }

  async start(engine: RunEngine, config: RunConfig): Promise<void> {
    if (this.phase === 'running') return;
    const token = ++this.token;
    this.engine = engine;
    this.phase = 'running';
    this.cancelling = false;
    this.progress = { stage: 'allocating', step: 0, steps: config.steps };
    this.report = null;
    this.failure = null;
    this.host.requestUpdate();
    try {
      const report = await engine.run(config, (p) => {
        if (token !== this.token) return;
        this.progress = p;
        this.host.requestUpdate();
      });
      if (token !== this.token) return;
      this.report = report;
      this.phase = 'done';
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
function measuredPeakAt(report: RunReport): string {
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

/**
 * Runs the plan's mlp on the page's GPU engine and shows the measurement beside the
 * estimate: per-category bytes and the peak (with their difference), the live-bytes
 * timeline, timing per phase and the loss. The plan comes from the planner form; steps and
 * seed are this panel's own inputs. Talks to the engine only through `engine` (no GPU here).
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

  @state() private steps = String(DEFAULT_RUN.steps);
  @state() private seed = String(DEFAULT_RUN.seed);

  private readonly runs = new RunController(this);

  override render() {
    const blockers = runBlockers(this.planConfig);
    const checked = blockers.length === 0 ? validate(this.planConfig, this.steps, this.seed) : null;
    const errors = checked?.errors ?? {};
    const running = this.runs.phase === 'running';
    const why = this.whyDisabled(blockers, checked);
    return html`
      <section aria-labelledby="run-heading" data-testid="run-panel" data-phase=${this.runs.phase} data-finished=${this.runs.finished}>
        <h2 id="run-heading">Run it on this GPU</h2>
        <p class="muted">
          Trains the planned mlp for a few steps in a worker and compares the ledger with the planner's estimate for this
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
        ${errors.config ? html`<p class="error" data-testid="run-config-error">${errors.config}</p>` : nothing}
        ${why && !errors.config && blockers.length === 0 ? html`<p class="muted" id="run-why" data-testid="run-why">${why}</p>` : nothing}
        ${this.renderStatus()} ${this.runs.report ? this.renderReport(this.runs.report) : nothing}
      </section>
    `;
  }

  /** An empty string when Run may be pressed; otherwise the reason, for the button's description. */
  private whyDisabled(blockers: string[], checked: Validated | null): string {
    if (blockers.length > 0) return blockers[0]!;
    if (this.formInvalid) return 'Fix the planner form first; the run uses its settings.';
    if (!checked?.config) return 'Fix the run settings first.';
    if (!this.engine || this.engineStatus === 'connecting') return 'Waiting for the GPU engine to start…';
    if (this.engineStatus === 'error') return `No GPU engine: ${this.engineError || 'it failed to start'}`;
    return '';
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

  private renderReport(r: RunReport) {
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

      <h3>Loss</h3>
      <p data-testid="run-loss">
        ${lossFirst === undefined
          ? 'No steps ran.'
          : html`${formatLoss(lossFirst)} → ${formatLoss(lossLast!)} over ${r.loss.length} step${r.loss.length === 1 ? '' : 's'}; skipped steps
              <span data-testid="skipped-steps">${r.skippedSteps}</span>.`}
      </p>
      <vl-loss-chart .loss=${r.loss}></vl-loss-chart>
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
    if (!checked.config || this.whyDisabled([], checked) !== '') return;
    void this.runs.start(this.engine, checked.config);
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
