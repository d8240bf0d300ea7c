import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { DEFAULT_PLAN, type PlanConfig } from '../protocol/config.ts';
import type { AdapterSummary, EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import { DEFAULT_RUN } from '../protocol/run.ts';
import { formatDuration } from './device-speed.ts';
import { controlStyles } from './control-styles.ts';
import { AdapterConsumer, type EngineStatus } from './engine-controller.ts';
import { formatBytes } from './format.ts';
import { LabRunnerController, type LabRunner } from './lab-runner.ts';
import { LONG_RUN_MS } from './lesson-plans.ts';
import { PANEL_MAX_STEPS, describeRun, formatFlops, ignoredSettings, orList, runBlockers, runnableModel, validate, type RunnableModel, type Validated } from './run-config.ts';
import { RunQueueController } from './run-queue.ts';
import type { RunScale } from './run-result.ts';
import { describeChanges, deviceBudget, planForDevice, refusalOf, type DeviceBudget, type ScalableRunConfig, type ScalePlan } from './scale.ts';
import './predict-guess.ts';
import './run-progress.ts';
import './run-result.ts';
import type { GuessChangeDetail } from './predict-guess.ts';

export { PANEL_MAX_STEPS, RUNNABLE_MODELS_MESSAGE, ignoredSettings, runBlockers, runConfigFor, runnableModel } from './run-config.ts';
export type { RunnableModel } from './run-config.ts';

export const CANCELLED_MESSAGE = 'Cancelled; nothing is left allocated.';

/** How the panel's intro names the planned model. */
const MODEL_WORDS: Record<NonNullable<RunnableModel>['kind'], string> = { mlp: 'mlp', gpt: 'GPT', llama: 'Llama-style decoder', cnn: 'CNN' };

/** What the device check decided for a GPT, Llama or CNN run. */
type DeviceCheck = { kind: 'waiting' } | { kind: 'error'; message: string } | { kind: 'ok'; budget: DeviceBudget; plan: ScalePlan<ScalableRunConfig> };

/** The detail of `vl-run-report`: the finished run's report, or null when a new run starts. */
export interface RunReportDetail {
  report: EngineRunReport | null;
}

/** The detail of `vl-predict-change`: whether the page should hide its estimates (a guess is being made). */
export interface PredictChangeDetail {
  hidden: boolean;
}

/** What a finished run was started from, to tell when the settings have moved on. */
interface RanFor {
  key: string;
  scale: RunScale | null;
  guessMiB: number | null;
}

/**
 * Runs the plan's model (the mlp, a gpt2-family decoder as the engine's GPT, a llama-family one as its Llama, cnn-mnist or cnn-cifar as its CNN) on the page's
 * shared engine and shows the measurement beside estimates of the same configuration
 * (run-result.ts). The plan comes from the planner form; steps and seed are this panel's own.
 * Before a GPT, Llama or CNN run the shape is checked against the adapter's limits and a stated budget
 * (scale.ts): one too big runs scaled down (the "run scaled down" box, on by default) or is
 * refused with the limit named. Before any run the panel says how long it should take here.
 * Predict, then measure (predict-guess.ts): while a guess is being made the estimates are
 * hidden (on the page too, through `vl-predict-change`) until it is locked.
 *
 * @fires vl-run-report - {RunReportDetail} a run finished with a report, or (report: null) a new run started
 * @fires vl-predict-change - {PredictChangeDetail} the page's estimates should be hidden or shown again
 */
@customElement('vl-run-panel')
export class VlRunPanel extends LitElement {
  static override styles = [
    controlStyles,
    css`
    :host {
      display: block;
      min-width: 0;
    }
    h2 {
      font-size: 1.1rem;
      margin: 0 0 0.4rem;
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
    .blocked,
    .long {
      color: var(--vl-warn-fg, #664d03);
      background: var(--vl-warn-bg, #fff3cd);
      padding: 0.4rem 0.6rem;
      border-radius: 6px;
    }
    .sr-only {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip: rect(0 0 0 0);
      white-space: nowrap;
    }
  `,
  ];

  /** The planner form's last valid config. */
  @property({ attribute: false }) planConfig: PlanConfig = DEFAULT_PLAN;
  /** Set while the form holds an invalid edit: planConfig is then out of date. */
  @property({ type: Boolean }) formInvalid = false;
  /** The page's shared engine; null until the page has one. */
  @property({ attribute: false }) runner: LabRunner | null = null;
  @property() engineStatus: EngineStatus = 'connecting';
  /** The engine's failure sentence when engineStatus is 'error'. */
  @property() engineError = '';
  /** The adapter whose limits bound a GPT run; when unset, the one the page's EngineController reports. */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;

  /** Run a GPT that does not fit this device scaled down (true) or refuse it (false). */
  @state() private scaleDown = true;
  @state() private steps = String(DEFAULT_RUN.steps);
  @state() private seed = String(DEFAULT_RUN.seed);
  /** The guess (MiB) locked in for the next run; null when none is locked. */
  @state() private lockedGuess: number | null = null;
  /** A guess is being typed and not locked: estimates stay hidden. */
  @state() private predicting = false;
  /** What the shown result was started from. */
  @state() private ranFor: RanFor | null = null;
  /** The sentence the live region announces when a run ends. */
  @state() private announcement = '';

  private readonly queue = new RunQueueController(this, 'run', (points) => this.handleDone(points[0]?.report ?? null));
  private readonly lab = new LabRunnerController(this);
  private readonly provided = new AdapterConsumer(this);
  /** The last device check, by config and adapter: estimating a 48-layer model per keystroke is wasteful. */
  private checkCache: { config: ScalableRunConfig; adapter: AdapterSummary; result: DeviceCheck } | null = null;

  private get currentAdapter(): AdapterSummary | null {
    return this.adapter ?? this.provided.adapter;
  }

  override willUpdate(): void {
    this.lab.track(this.runner);
  }

  /** The device check for a GPT, Llama or CNN config: waiting for the adapter, the estimate's error, or the scale plan. */
  private deviceCheck(config: ScalableRunConfig): DeviceCheck {
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
  private toRun(checked: Validated | null): { config: EngineRunConfig; scale: RunScale | null; refusal: null } | { config: null; refusal: string | null } {
    const config = checked?.config;
    if (!config) return { config: null, refusal: null };
    if (config.model === 'mlp') return { config, scale: null, refusal: null };
    const check = this.deviceCheck(config);
    if (check.kind === 'waiting') return { config: null, refusal: null };
    if (check.kind === 'error') return { config: null, refusal: check.message };
    const { plan, budget } = check;
    if (plan.kind === 'fits') return { config: plan.config, scale: null, refusal: null };
    if (plan.kind === 'scaled' && this.scaleDown) return { config: plan.config, scale: { factor: plan.factor, changes: describeChanges(config, plan.config) }, refusal: null };
    return { config: null, refusal: refusalOf(plan, budget) };
  }

  /** What identifies the settings of a run: the plan and this panel's own inputs. */
  private settingsKey(): string {
    return JSON.stringify([this.planConfig, this.steps, this.seed, this.scaleDown]);
  }

  override render() {
    const blockers = runBlockers(this.planConfig);
    const checked = blockers.length === 0 ? validate(this.planConfig, this.steps, this.seed) : null;
    const errors = checked?.errors ?? {};
    const running = this.queue.running;
    const chosen = this.toRun(checked);
    const why = this.whyDisabled(blockers, checked, chosen.refusal);
    const model = blockers.length === 0 ? runnableModel(this.planConfig) : null;
    const report = this.queue.points[0]?.report ?? null;
    const stale = report && this.ranFor && this.ranFor.key !== this.settingsKey() ? `These measurements are of ${describeRun(report.config)}; the settings have changed since. Run again to measure the new ones.` : '';
    const hideEstimates = this.predicting && this.lockedGuess === null;
    return html`
      <section aria-labelledby="run-heading" data-testid="run-panel" data-phase=${this.phase()} data-finished=${this.queue.finished}>
        <h2 id="run-heading">Run it on this GPU</h2>
        <p class="muted">
          Trains the planned ${model ? MODEL_WORDS[model.kind] : 'model'} for a few steps in a worker and measures every buffer;
          the result sits beside the planner's estimates of exactly what ran.
        </p>
        ${blockers.length > 0 ? html`<div class="blocked" data-testid="run-blocked">${blockers.map((b) => html`<p>${b}</p>`)}</div>` : nothing}
        ${blockers.length === 0 && ignoredSettings(this.planConfig).length > 0
          ? html`<p class="muted" data-testid="run-ignored">The run uses one GPU and the whole batch at once; it ignores ${orList(ignoredSettings(this.planConfig))}.</p>`
          : nothing}
        <div class="controls">
          ${this.renderNumber('steps', 'steps', this.steps, 1, PANEL_MAX_STEPS, errors.steps)}
          ${this.renderNumber('seed', 'seed', this.seed, 0, 2 ** 32 - 1, errors.seed)}
          <div class="buttons">
            <button type="button" data-testid="run-button" ?disabled=${why !== '' || running} aria-describedby=${why ? 'run-why' : nothing} @click=${this.handleRun}>
              Run
            </button>
            <button type="button" class="secondary" data-testid="cancel-button" ?disabled=${!running || this.queue.cancelling} @click=${this.handleCancel}>
              ${this.queue.cancelling ? 'Cancelling…' : 'Cancel'}
            </button>
          </div>
        </div>
        <vl-predict-guess
          ?disabled=${running}
          .locked=${this.lockedGuess}
          @vl-guess-change=${this.handleGuessChange}
        ></vl-predict-guess>
        ${errors.config ? html`<p class="error" data-testid="run-config-error">${errors.config}</p>` : nothing}
        ${checked?.config && checked.config.model !== 'mlp' ? this.renderDeviceCheck(checked.config, hideEstimates) : nothing}
        ${chosen.config && !running ? this.renderDuration(chosen.config) : nothing}
        ${chosen.refusal
          ? html`<p class="blocked" id="run-why" role="status" data-testid="run-refused">${chosen.refusal}</p>`
          : why && !errors.config && blockers.length === 0
            ? html`<p class="muted" id="run-why" data-testid="run-why">${why}</p>`
            : nothing}
        ${this.renderStatus()}
        <p class="sr-only" role="status" aria-live="polite" data-testid="run-announce">${this.announcement}</p>
        <vl-run-result
          .report=${report}
          .scale=${this.ranFor?.scale ?? null}
          .guessMiB=${this.ranFor?.guessMiB ?? null}
          .run=${this.queue.finished}
          stale=${stale}
        ></vl-run-result>
      </section>
    `;
  }

  /** idle, running, done, failed or cancelled: the single run's state, for tests and styles. */
  private phase(): string {
    const q = this.queue;
    if (q.phase === 'idle' || q.phase === 'running' || q.phase === 'cancelled') return q.phase;
    const p = q.points[0];
    return p?.status === 'done' ? 'done' : p?.status === 'cancelled' ? 'cancelled' : 'failed';
  }

  /** An empty string when Run may be pressed; otherwise the reason, for the button's description. */
  private whyDisabled(blockers: string[], checked: Validated | null, refusal: string | null): string {
    if (blockers.length > 0) return blockers[0]!;
    if (this.formInvalid) return 'Fix the planner form first; the run uses its settings.';
    if (!checked?.config) return 'Fix the run settings first.';
    if (!this.runner || this.engineStatus === 'connecting') return 'Waiting for the GPU engine to start…';
    if (this.engineStatus === 'error') return `No GPU engine: ${this.engineError || 'it failed to start'}`;
    if (refusal) return refusal;
    const blocked = this.runner.blockedFor('run');
    if (blocked) return blocked;
    // No GPT run starts before its shape is checked against the adapter's limits.
    if (checked.config.model !== 'mlp' && !this.currentAdapter) return 'Waiting for the adapter’s limits to check the model against…';
    return '';
  }

  /** How long the run should take here; past LONG_RUN_MS it is said plainly before it starts. */
  private renderDuration(config: EngineRunConfig) {
    if (!this.runner) return nothing;
    const predicted = this.runner.predictMs(config);
    return predicted > LONG_RUN_MS
      ? html`<p class="long" data-testid="run-duration" data-predicted-ms=${Math.round(predicted)}>
          This run takes ${formatDuration(predicted)} on this device${this.runner.isCompiled(config) ? '' : ', compiling its kernels first'}; lower the steps or the
          batch for a quicker one.
        </p>`
      : html`<p class="muted" data-testid="run-duration" data-predicted-ms=${Math.round(predicted)}>
          ${formatDuration(predicted)} on this device${this.runner.isCompiled(config) ? '' : ', compiling its kernels first'}.
        </p>`;
  }

  /** The budget this device is held to, and what the check decided: fits, scaled down (with the toggle), or nothing to add. */
  private renderDeviceCheck(config: ScalableRunConfig, hideEstimates: boolean) {
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
          Fits this device at full size${hideEstimates ? ' (estimates hidden until you lock your guess)' : `: estimated peak ${formatBytes(plan.check.peakBytes)}, largest tensor ${formatBytes(plan.check.tensor.bytes)}`}.
        </p>`;
    }
    if (plan.kind === 'refused') return budgetLine;
    return html`${budgetLine}
      <p class="scaled" data-testid="run-scaled" data-factor=${plan.factor}>${hideEstimates ? `Scaled down ×${plan.factor} to fit this device: ${describeChanges(config, plan.config)}.` : plan.message}</p>
      <label class="toggle">
        <input type="checkbox" data-testid="run-scaled-toggle" .checked=${this.scaleDown} @change=${this.handleScaleToggle} />
        run scaled down
      </label>`;
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
    const q = this.queue;
    if (q.running) {
      const p = q.progress;
      const detail = !p || p.stage === 'allocating' ? `allocating, ${p?.steps ?? 0} steps to run` : p.stage === 'compiling' ? `compiling shaders, ${p.steps} steps to run` : `step ${p.step}/${p.steps}${p.loss !== undefined ? `, loss ${p.loss.toPrecision(4)}` : ''}`;
      return html`<vl-run-progress
        data-testid="run-progress"
        label="training steps"
        .detail=${detail}
        .fraction=${q.fraction}
        .remaining=${() => q.remainingMs}
        ?cancelling=${q.cancelling}
        @vl-cancel=${this.handleCancel}
      ></vl-run-progress>`;
    }
    const point = q.points[0];
    if (!point) return nothing;
    if (point.status === 'cancelled') return html`<p role="status" data-testid="run-cancelled">${CANCELLED_MESSAGE}</p>`;
    if (point.status === 'failed' && point.failure) {
      return html`<p class="error" role="alert" data-testid="run-error" data-error=${point.failure.name}>${point.failure.message}</p>`;
    }
    return nothing;
  }

  private handleInput(e: Event): void {
    const input = e.target as HTMLInputElement;
    if (input.name === 'steps') this.steps = input.value;
    else if (input.name === 'seed') this.seed = input.value;
  }

  private handleRun(): void {
    if (!this.runner || runBlockers(this.planConfig).length > 0) return;
    const checked = validate(this.planConfig, this.steps, this.seed);
    const chosen = this.toRun(checked);
    if (!chosen.config || this.whyDisabled([], checked, chosen.refusal) !== '') return;
    // The locked guess belongs to this run; the input is free again for the next one.
    this.ranFor = { key: this.settingsKey(), scale: chosen.scale, guessMiB: this.lockedGuess };
    this.lockedGuess = null;
    this.predicting = false;
    this.announcement = '';
    this.dispatchEvent(new CustomEvent<RunReportDetail>('vl-run-report', { detail: { report: null }, bubbles: true, composed: true }));
    void this.queue.start(this.runner, [{ id: 'run', label: 'run', config: chosen.config }]);
  }

  private async handleDone(report: EngineRunReport | null): Promise<void> {
    this.dispatchEvent(new CustomEvent<RunReportDetail>('vl-run-report', { detail: { report }, bubbles: true, composed: true }));
    this.dispatchEvent(new CustomEvent<PredictChangeDetail>('vl-predict-change', { detail: { hidden: false }, bubbles: true, composed: true }));
    if (!report) return;
    const diff = report.actual.peakBytes - report.estimate.peak.bytes;
    this.announcement = `Run finished: measured peak ${formatBytes(report.actual.peakBytes)}, estimate ${formatBytes(report.estimate.peak.bytes)}${diff === 0 ? ', an exact match' : ''}.`;
    // After Run, focus moves to the result, as a reader would look there next.
    await this.updateComplete;
    const result = this.renderRoot.querySelector('vl-run-result');
    await result?.updateComplete;
    result?.shadowRoot?.querySelector<HTMLElement>('[data-testid=run-result]')?.focus();
  }

  private handleGuessChange(e: CustomEvent<GuessChangeDetail>): void {
    this.lockedGuess = e.detail.locked;
    this.predicting = e.detail.predicting;
    this.dispatchEvent(new CustomEvent<PredictChangeDetail>('vl-predict-change', { detail: { hidden: this.predicting && this.lockedGuess === null }, bubbles: true, composed: true }));
  }

  private handleScaleToggle(e: Event): void {
    this.scaleDown = (e.target as HTMLInputElement).checked;
  }

  private handleCancel(): void {
    void this.queue.cancel();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-run-panel': VlRunPanel;
  }
}
