import { LitElement, css, html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { parsePlanConfig, type PlanConfig } from '../protocol/config.ts';
import type { Plan } from '../protocol/plan.ts';
import { decodePlanState, encodePlanState } from '../protocol/url.ts';
import { estimate } from '../estimate/index.ts';
import { chosenGpu } from '../estimate/gpus.ts';
import { EngineController } from './engine-controller.ts';
import type { ConfigChangeDetail } from './plan-form.ts';
import { ThemeController, themeStyles } from './theme.ts';
import type { ThemeChangeDetail } from './theme-toggle.ts';
import type { VlPlanBars } from './plan-bars.ts';
import { buttonStyles } from './export-styles.ts';
import { fileSafe } from './download.ts';
import { LabRunner, type RunEngine } from './lab-runner.ts';
import type { PredictChangeDetail } from './run-panel.ts';
import type { PlanPatchDetail } from './fit-suggestions.ts';
import './plan-form.ts';
import './plan-breakdown.ts';
import './adapter-card.ts';
import './notice.ts';
import './run-panel.ts';
import './lessons.ts';
import './fit-suggestions.ts';
import './experiments.ts';
import './plan-bars.ts';
import './device-bars.ts';
import './plan-delta.ts';
import './verdict.ts';
import './chart-export-buttons.ts';
import './plan-export-buttons.ts';
import './snapshot-compare.ts';
import './theme-toggle.ts';
import './copy-link.ts';

type Estimated = { plan: Plan; error: null } | { plan: null; error: string };

/** estimate() throws EstimateError/ConfigError whose message is already a user sentence. */
function tryEstimate(config: PlanConfig): Estimated {
  try {
    return { plan: estimate(config), error: null };
  } catch (e) {
    return { plan: null, error: e instanceof Error ? e.message : String(e) };
  }
}

/** The address bar for a config: same page, the plan's query (only non-default fields), same hash. */
function urlFor(config: PlanConfig): string {
  const query = encodePlanState(config);
  return `${location.pathname}${query ? `?${query}` : ''}${location.hash}`;
}

/** A pinned plan in a few words: what usually changes between two plans. */
function describe(c: PlanConfig, p: Plan): string {
  const step = c.mode === 'train' ? `${c.precision}, ${c.optimizer}, checkpointing ${c.checkpoint}` : `inference, ${c.precision}`;
  return `${p.model.name}, batch ${c.batch}, ${step}`;
}

/**
 * The page. First the answer: the verdict for the chosen GPU and the headline chart (with
 * pin-and-compare and exports), then room for fit suggestions and the Lab (run, lessons,
 * experiments), then the breakdown tables; the form sits beside them on wide screens (after
 * the chart on narrow ones), with the adapter card under it. The form's state lives in the
 * URL (decoded once on load, replaced on every valid change), so a plan can be shared as a
 * link; a link's bad settings are listed and their defaults used.
 *
 * Listens for `vl-plan-patch` (detail: `{ patch, change }`, fit-suggestions.ts) from anything
 * inside the page, e.g. a fit suggestion's Apply: the patch is applied to the form when the
 * result is valid.
 *
 * @csspart header - the title bar
 */
@customElement('vl-app')
export class VlApp extends LitElement {
  static override styles = [
    themeStyles,
    buttonStyles,
    css`
      :host {
        display: block;
        min-height: 100vh;
        background: var(--vl-bg);
        color: var(--vl-fg);
        font-family: system-ui, sans-serif;
        line-height: 1.4;
      }
      .skip {
        position: absolute;
        left: 0.5rem;
        top: -3rem;
        padding: 0.4rem 0.8rem;
        background: var(--vl-surface);
        color: var(--vl-accent);
        border: 2px solid var(--vl-accent);
        border-radius: 4px;
        z-index: 10;
      }
      .skip:focus {
        top: 0.5rem;
      }
      header {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.4rem 1rem;
        padding: 0.5rem 1.5rem;
        border-bottom: 1px solid var(--vl-border);
      }
      h1 {
        font-size: 1.3rem;
        margin: 0;
      }
      header p {
        margin: 0;
        color: var(--vl-muted);
        flex: 1 1 12rem;
      }
      .tools {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.5rem 0.75rem;
      }
      main {
        display: grid;
        grid-template-columns: minmax(0, 1fr) minmax(18rem, 25rem);
        grid-template-areas:
          'top side'
          'lab side'
          'details side';
        grid-template-rows: auto auto 1fr;
        gap: 1rem 1.5rem;
        padding: 0.75rem 1.5rem 2rem;
      }
      main > * {
        min-width: 0;
      }
      .top {
        grid-area: top;
      }
      .side {
        grid-area: side;
        align-self: start;
        display: grid;
        gap: 0.75rem;
      }
      .lab {
        grid-area: lab;
        overflow-x: auto;
      }
      .details {
        grid-area: details;
        overflow-x: auto;
      }
      @media (max-width: 900px) {
        main {
          grid-template-columns: minmax(0, 1fr);
          grid-template-areas: 'top' 'side' 'lab' 'details';
          grid-template-rows: auto;
          padding: 0.5rem 0.75rem 2rem;
        }
        header {
          padding: 0.5rem 0.75rem;
        }
      }
      .lead,
      ::slotted([slot='results-heading']) {
        font-size: 0.8rem;
        font-weight: 600;
        text-transform: uppercase;
        letter-spacing: 0.06em;
        color: var(--vl-muted);
        margin: 0 0 0.15rem;
      }
      .chart-head {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        justify-content: space-between;
        gap: 0.4rem 1rem;
        margin: 0.75rem 0 0.25rem;
      }
      h2 {
        font-size: 1.05rem;
        margin: 0;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.4rem 0.75rem;
      }
      vl-plan-delta,
      vl-fit-suggestions {
        display: block;
        margin-top: 1rem;
      }
      .lab > * + * {
        display: block;
        margin-top: 1.5rem;
        padding-top: 1rem;
        border-top: 1px solid var(--vl-border);
      }
      .error {
        color: var(--vl-error);
        font-weight: 600;
      }
      .muted {
        color: var(--vl-muted);
        font-size: 0.85rem;
      }
      vl-notice {
        margin: 0.75rem 1.5rem 0;
      }
      .concealed {
        filter: blur(9px);
        user-select: none;
      }
      .concealed-note {
        color: var(--vl-warn-fg);
        background: var(--vl-warn-bg);
        padding: 0.4rem 0.6rem;
        border-radius: 6px;
      }
      .engine-status {
        margin: 0;
        font-size: 0.9rem;
        overflow-wrap: anywhere;
      }
      .engine-status:empty {
        display: none;
      }
      .engine-status[data-tone='recovered'] {
        color: var(--vl-ok);
      }
      .engine-status[data-tone='problem'] {
        color: var(--vl-error);
        font-weight: 600;
      }
    `,
  ];

  private readonly engine = new EngineController(this);
  private readonly theme = new ThemeController(this);
  /** The URL's plan, read once; bad fields already replaced by their defaults. */
  private readonly fromUrl = decodePlanState(location.search);

  /** What was wrong with the link the page was opened with, until dismissed. */
  @state() private urlProblems: readonly string[] = this.fromUrl.problems;
  /** What the form shows; replaced only from outside the form (a plan-patch), so typing is not overwritten. */
  @state() private formConfig: PlanConfig = this.fromUrl.config;
  @state() private estimated: Estimated = tryEstimate(this.formConfig);
  /** The last valid plan, kept (dimmed) while the form is invalid. */
  @state() private shown: Plan | null = this.estimated.plan;
  @state() private stale = false;
  /** The form's last valid config. */
  @state() private config: PlanConfig = this.formConfig;
  /** A plan kept for comparison, and what it was. */
  @state() private pinned: { plan: Plan; label: string } | null = null;
  /** Set while a guess is being made (predict, then measure): the estimates are hidden. */
  @state() private estimatesHidden = false;

  @query('vl-plan-bars') private bars!: VlPlanBars;
  @query('slot[name="results-heading"]') private resultsSlot!: HTMLSlotElement;

  /** The run panel's way to the engine: the controller's validated run, and its cancel of that run. */
  private readonly runner: RunEngine = {
    run: (config, onProgress) => this.engine.run(config, onProgress),
    cancel: () => this.engine.cancel(),
    measureThroughput: () => this.engine.measureThroughput(),
  };

  /** The engine shared by lessons, Run and experiments: one of them runs at a time. */
  private readonly lab = new LabRunner(this.runner);

  override render() {
    const { status, adapter, error, deviceErrors, notice } = this.engine;
    const dim = this.stale || this.estimated.error !== null;
    const gpu = chosenGpu(this.config);
    return html`
      <header part="header">
        <a class="skip" href="#results" data-testid="skip-link" @click=${this.handleSkip}>Skip to results</a>
        <h1>vramlab</h1>
        <p>Will this training run fit, and why?</p>
        <div class="tools">
          <vl-copy-link></vl-copy-link>
          <vl-theme-toggle .theme=${this.theme.theme} @vl-theme-change=${this.handleThemeChange}></vl-theme-toggle>
        </div>
      </header>
      ${this.urlProblems.length > 0
        ? html`<vl-notice
            data-testid="url-problems"
            heading="Some settings in this link could not be used; the defaults are shown instead."
            .items=${this.urlProblems}
            @vl-notice-dismiss=${this.handleUrlProblemsDismiss}
          ></vl-notice>`
        : nothing}
      <main @vl-plan-patch=${this.handlePlanPatch}>
        <section class="top" aria-label="Does it fit?" data-testid="results">
          <!-- The heading comes from index.html (light DOM), so the skip link's #results works without script and for checkers. -->
          <slot name="results-heading"><h2 class="lead" id="results" tabindex="-1">Does it fit?</h2></slot>
          ${this.estimated.error ? html`<p class="error" role="alert" data-testid="estimate-error">${this.estimated.error}</p>` : nothing}
          ${this.estimatesHidden
            ? html`<p class="concealed-note" data-testid="estimates-hidden">The estimates are hidden while you predict: lock in your guess in the Lab below to see them.</p>`
            : nothing}
          <div class=${this.estimatesHidden ? 'concealed' : ''} ?inert=${this.estimatesHidden} aria-hidden=${this.estimatesHidden ? 'true' : 'false'}>
          <vl-verdict .plan=${this.shown} .gpu=${gpu} ?stale=${dim}></vl-verdict>
          <div class="chart-head">
            <h2>Peak memory by category</h2>
            <div class="actions">
              ${this.pinned
                ? html`<button type="button" data-testid="unpin" @click=${this.handleUnpin}>Unpin</button>`
                : html`<button type="button" data-testid="pin" ?disabled=${!this.shown} @click=${this.handlePin}>Pin this plan</button>`}
              <span class="muted">save</span>
              <vl-chart-export what="chart" .name=${`vramlab-peak-${fileSafe(this.shown?.model.id ?? 'plan')}`} .target=${this.chartSvg}></vl-chart-export>
              <vl-plan-export .plan=${this.shown} .config=${this.config}></vl-plan-export>
            </div>
          </div>
          <vl-plan-bars
            .plan=${this.shown}
            .pinned=${this.pinned?.plan ?? null}
            .pinnedLabel=${this.pinned?.label ?? ''}
            .gpu=${gpu}
            .adapter=${adapter}
            framework=${this.config.framework}
            ?stale=${dim}
          ></vl-plan-bars>
          ${this.pinned ? html`<vl-plan-delta .pinned=${this.pinned.plan} .plan=${this.shown}></vl-plan-delta>` : nothing}
          <vl-device-bars .plan=${this.shown} .capacityBytes=${gpu.memoryBytes}></vl-device-bars>
          <vl-fit-suggestions .plan=${this.config} .capacityBytes=${gpu.memoryBytes}></vl-fit-suggestions>
          <vl-snapshot-compare .plan=${this.shown}></vl-snapshot-compare>
          </div>
        </section>
        <aside class="side" aria-label="Plan settings">
          <vl-plan-form .config=${this.formConfig} @vl-config-change=${this.handleConfigChange} @vl-config-invalid=${this.handleConfigInvalid}></vl-plan-form>
          <p class="engine-status" role="status" data-testid="engine-status" data-tone=${notice?.tone ?? ''}>${notice?.message ?? ''}</p>
          <vl-adapter-card .status=${status} .adapter=${adapter} .error=${error} .deviceErrors=${deviceErrors}></vl-adapter-card>
        </aside>
        <!-- Lab: lessons, the run and the experiments, after the answer and before the long tables. -->
        <section class="lab" aria-label="Lab" data-testid="lab">
          <vl-lessons .runner=${this.lab} .engineStatus=${status}></vl-lessons>
          <vl-run-panel
            .planConfig=${this.config}
            .formInvalid=${dim}
            .runner=${this.lab}
            .engineStatus=${status}
            .engineError=${error?.message ?? ''}
            @vl-predict-change=${this.handlePredictChange}
          ></vl-run-panel>
          <vl-experiments .planConfig=${this.config} .runner=${this.lab} .engineStatus=${status} .adapter=${adapter}></vl-experiments>
        </section>
        <section class="details" aria-label="Breakdown">
          <div class=${this.estimatesHidden ? 'concealed' : ''} ?inert=${this.estimatesHidden} aria-hidden=${this.estimatesHidden ? 'true' : 'false'}>
            <vl-plan-breakdown .plan=${this.shown} ?stale=${dim}></vl-plan-breakdown>
          </div>
        </section>
      </main>
    `;
  }

  private readonly chartSvg = (): SVGSVGElement | null => this.bars?.svgElement ?? null;

  private applyConfig(config: PlanConfig): void {
    this.estimated = tryEstimate(config);
    this.config = config;
    if (this.estimated.plan) this.shown = this.estimated.plan;
    this.stale = false;
    // replaceState, not pushState: every keystroke is a change, and Back should leave the page.
    history.replaceState(history.state, '', urlFor(config));
  }

  private handleConfigChange(e: CustomEvent<ConfigChangeDetail>): void {
    this.applyConfig(e.detail.config);
  }

  /** A patch from a suggestion: applied to the last valid config and shown in the form; an invalid result is ignored. */
  private handlePlanPatch(e: CustomEvent<PlanPatchDetail>): void {
    let next: PlanConfig;
    try {
      next = parsePlanConfig({ ...this.config, ...e.detail.patch });
    } catch {
      return;
    }
    this.formConfig = next;
    this.applyConfig(next);
  }

  /** Predict, then measure: the estimates stay hidden until the viewer locks a guess. */
  private handlePredictChange(e: CustomEvent<PredictChangeDetail>): void {
    this.estimatesHidden = e.detail.hidden;
  }

  private handlePin(): void {
    if (this.shown) this.pinned = { plan: this.shown, label: describe(this.config, this.shown) };
  }

  private handleUnpin(): void {
    this.pinned = null;
  }

  /** The results heading: index.html's slotted one, or the fallback inside the shadow root. */
  private handleSkip(e: Event): void {
    e.preventDefault();
    const target = (this.resultsSlot.assignedElements()[0] ?? this.resultsSlot.querySelector('h2')) as HTMLElement | null;
    target?.focus();
    target?.scrollIntoView({ block: 'start' });
  }

  private handleThemeChange(e: CustomEvent<ThemeChangeDetail>): void {
    this.theme.set(e.detail.theme);
  }

  private handleUrlProblemsDismiss(): void {
    this.urlProblems = [];
  }

  private handleConfigInvalid(): void {
    this.stale = true;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-app': VlApp;
  }
}
