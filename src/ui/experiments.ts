import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { DEFAULT_PLAN, type PlanConfig } from '../protocol/config.ts';
import type { AdapterSummary, EngineRunConfig } from '../protocol/engine-api.ts';
import { AdapterConsumer, type EngineStatus } from './engine-controller.ts';
import { DEFAULT_STEPS, EXPERIMENT_VIEWS, SEED, type ExperimentView } from './experiment-jobs.ts';
import { experimentStyles } from './experiment-styles.ts';
import { formatBytes, formatInteger } from './format.ts';
import type { LabRunner } from './lab-runner.ts';
import { PANEL_MAX_STEPS, runConfigFor } from './run-config.ts';
import type { QueuePoint } from './run-queue.ts';
import { checkFit, describeChanges, deviceBudget, planForDevice, refusalOf } from './scale.ts';
import './sweep-view.ts';
import './tradeoff-view.ts';

export { EXPERIMENT_VIEWS, SWEEP_KEYS, SWEEP_MAX_POINTS, SWEEP_MIN_POINTS, curveXs, parseSweepValues, sweepKeys, tradeoffModes, withSetting } from './experiment-jobs.ts';
export type { ExperimentView, SweepKey } from './experiment-jobs.ts';
export { estimateRun } from './run-estimate.ts';

const VIEW_LABELS: Record<ExperimentView, string> = { tradeoff: 'Checkpointing trade-off', sweep: 'Sweep' };

export interface ExperimentDoneDetail {
  view: ExperimentView;
  points: QueuePoint[];
}

/** The run the experiments vary: the planner's config, scaled down exactly as Run would scale it. */
type Base = { config: EngineRunConfig; scaled: string | null } | { error: string };

/**
 * Experiments on the engine around the planner's current config, each a series of real runs
 * drawn against the planner: the checkpointing trade-off (tradeoff-view.ts) and a sweep
 * (sweep-view.ts), of the mlp, a GPT, a Llama-style decoder or a CNN. A model too big for this
 * device is scaled down as Run scales it, or refused,
 * and the page says which before anything starts. Experiments share the page's engine
 * (lab-runner.ts) with Run and the lessons: while one runs, the others wait.
 *
 * @csspart tabs - the row of view tabs
 */
@customElement('vl-experiments')
export class VlExperiments extends LitElement {
  static override styles = [
    experimentStyles,
    css`
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
      [role='tab']:focus-visible {
        outline: 2px solid var(--vl-accent, #0b57d0);
        outline-offset: 1px;
      }
      input[type='number'] {
        width: 5rem;
      }
      .scaled {
        color: var(--vl-warn-fg, #664d03);
        font-size: 0.9rem;
      }
    `,
  ];

  /** The planner form's config: the experiments vary it. */
  @property({ attribute: false }) planConfig: PlanConfig = DEFAULT_PLAN;
  /** The page's shared engine; null until the page has one. */
  @property({ attribute: false }) runner: LabRunner | null = null;
  @property() engineStatus: EngineStatus = 'connecting';
  /** The adapter, when not provided through ADAPTER_REQUEST (e.g. a page without an EngineController). */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;

  @state() private view: ExperimentView = 'tradeoff';
  @state() private stepsText = String(DEFAULT_STEPS);

  private readonly adapterConsumer = new AdapterConsumer(this);

  private get currentAdapter(): AdapterSummary | null {
    return this.adapter ?? this.adapterConsumer.adapter;
  }

  /** Set while either view runs: the shared inputs are locked. */
  private get busy(): boolean {
    return this.runner?.owner === 'experiments';
  }

  private get steps(): { value: number } | { error: string } {
    const v = this.stepsText.trim() === '' ? Number.NaN : Number(this.stepsText);
    if (!Number.isInteger(v) || v < 1 || v > PANEL_MAX_STEPS) return { error: `steps must be a whole number from 1 to ${PANEL_MAX_STEPS}` };
    return { value: v };
  }

  /** The run the experiments start from: the plan's, scaled down to this device as Run does, or why there is none. */
  private base(): Base {
    const steps = this.steps;
    if ('error' in steps) return steps;
    const made = runConfigFor(this.planConfig, steps.value, SEED);
    if ('error' in made || made.config.model === 'mlp') return 'error' in made ? made : { config: made.config, scaled: null };
    const adapter = this.currentAdapter;
    if (!adapter) return { error: 'Waiting for the adapter’s limits to check the model against…' };
    const budget = deviceBudget(adapter);
    const plan = planForDevice(made.config, budget);
    if (plan.kind === 'fits') return { config: plan.config, scaled: null };
    if (plan.kind === 'scaled') {
      return { config: plan.config, scaled: `Every run uses the plan's model scaled down ×${plan.factor} to fit this device, as Run does: ${describeChanges(made.config, plan.config)}.` };
    }
    return { error: refusalOf(plan, budget) };
  }

  /** Why the engine cannot run now, or ''. */
  private engineBlocker(): string {
    if (!this.runner || this.engineStatus === 'connecting') return 'Waiting for the GPU engine to start…';
    if (this.engineStatus === 'error') return 'No GPU engine: see the status above.';
    return '';
  }

  /** For a GPT, Llama or CNN point: why it is too big for the adapter (null when it fits, or for the mlp). */
  private readonly tooBig = (c: EngineRunConfig): string | null => {
    if (c.model === 'mlp') return null;
    const adapter = this.currentAdapter;
    if (!adapter) return 'the adapter is not known yet, so its size cannot be checked';
    let over;
    try {
      over = checkFit(c, deviceBudget(adapter)).over;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    const first = over[0];
    if (!first) return null;
    const amount = first.limit === 'compute budget' ? `${formatInteger(first.needed)} FLOP` : formatBytes(first.needed);
    return `too big for this device: ${first.what} needs ${amount}, over the ${first.limit}; make the planner's model smaller`;
  };

  override render() {
    const base = this.base();
    const props = {
      base: 'error' in base ? null : base.config,
      baseError: 'error' in base ? base.error : '',
    };
    return html`
      <h2 id="experiments-heading">Experiments</h2>
      <p class="muted">
        Real runs of the planner's model with one setting changed at a time, drawn against the planner's estimate of each run (framework vramlab). Runs go
        one after another; seed ${SEED}.
      </p>
      ${'scaled' in base && base.scaled ? html`<p class="scaled" data-testid="experiments-scaled">${base.scaled}</p>` : nothing}
      <div class="controls">
        <label
          >steps per run
          <input type="number" min="1" max=${PANEL_MAX_STEPS} data-testid="experiments-steps" .value=${this.stepsText} ?disabled=${this.busy} @input=${this.handleStepsInput}
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
      <div role="tabpanel" id="panel-tradeoff" aria-labelledby="tab-tradeoff" ?hidden=${this.view !== 'tradeoff'}>
        <vl-tradeoff-view
          .base=${props.base}
          baseError=${props.baseError}
          engineBlocker=${this.engineBlocker()}
          .runner=${this.runner}
          .tooBig=${this.tooBig}
          ?inactive=${this.view !== 'tradeoff'}
        ></vl-tradeoff-view>
      </div>
      <div role="tabpanel" id="panel-sweep" aria-labelledby="tab-sweep" ?hidden=${this.view !== 'sweep'}>
        <vl-sweep-view
          .base=${props.base}
          baseError=${props.baseError}
          engineBlocker=${this.engineBlocker()}
          .runner=${this.runner}
          .tooBig=${this.tooBig}
          ?inactive=${this.view !== 'sweep'}
        ></vl-sweep-view>
      </div>
    `;
  }

  private readonly handleTabClick = (e: Event): void => {
    const v = (e.currentTarget as HTMLElement).dataset['view'];
    if (v === 'tradeoff' || v === 'sweep') this.view = v;
  };

  /** Arrow keys, Home and End move between tabs and select them (the WAI-ARIA tabs pattern, automatic activation). */
  private readonly handleTabKeydown = (e: KeyboardEvent): void => {
    const i = EXPERIMENT_VIEWS.indexOf(this.view);
    const n = EXPERIMENT_VIEWS.length;
    const next = e.key === 'ArrowRight' ? (i + 1) % n : e.key === 'ArrowLeft' ? (i - 1 + n) % n : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    this.view = EXPERIMENT_VIEWS[next]!;
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${this.view}`)?.focus());
  };

  private readonly handleStepsInput = (e: Event): void => {
    this.stepsText = (e.target as HTMLInputElement).value;
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
