import { LitElement } from 'lit';
import { property, query } from 'lit/decorators.js';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import type { ExperimentView } from './experiment-jobs.ts';
import { experimentStyles } from './experiment-styles.ts';
import { LabRunnerController, type LabRunner } from './lab-runner.ts';
import { RunQueueController } from './run-queue.ts';
import type { VlScatterChart } from './scatter-chart.ts';

/**
 * What both experiment views (tradeoff-view.ts, sweep-view.ts) are given and hold: the run they
 * vary, why the engine cannot run, the shared runner, the device check for a point, and a queue
 * of runs that announces its end as `vl-experiment-done` ({ view, points }). A view whose tab is
 * not shown (`inactive`) renders nothing and computes nothing (no device checks of its points,
 * no estimate curve); its queue keeps running, and it draws again when its tab opens.
 */
export abstract class ExperimentViewBase extends LitElement {
  static override styles = experimentStyles;

  /** The run the view varies (already scaled to fit the device); null with `baseError` when none. */
  @property({ attribute: false }) base: EngineRunConfig | null = null;
  @property() baseError = '';
  /** Why the engine cannot run now, or '' when it can. */
  @property() engineBlocker = '';
  @property({ attribute: false }) runner: LabRunner | null = null;
  /** Set while the view's tab is not shown. */
  @property({ type: Boolean, reflect: true }) inactive = false;
  /** For a GPT, Llama or CNN: why a config is too big for the adapter (null when it fits). */
  @property({ attribute: false }) tooBig: (c: EngineRunConfig) => string | null = () => null;

  @query('vl-scatter-chart') protected chart!: VlScatterChart | null;
  private readonly lab = new LabRunnerController(this);
  readonly queue: RunQueueController;

  constructor(view: ExperimentView) {
    super();
    this.queue = new RunQueueController(this, 'experiments', (points) =>
      this.dispatchEvent(new CustomEvent('vl-experiment-done', { detail: { view, points }, bubbles: true, composed: true })),
    );
  }

  override willUpdate(): void {
    this.lab.track(this.runner);
  }
}
