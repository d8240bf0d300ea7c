import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { PlanConfig } from '../protocol/config.ts';
import type { Plan } from '../protocol/plan.ts';
import { decodePlanState, encodePlanState } from '../protocol/url.ts';
import { estimate } from '../estimate/index.ts';
import { EngineController } from './engine-controller.ts';
import type { ConfigChangeDetail } from './plan-form.ts';
import './plan-form.ts';
import './plan-breakdown.ts';
import './adapter-card.ts';
import './notice.ts';
import type { EngineRunReport } from '../protocol/engine-api.ts';
import type { RunEngine, RunReportDetail } from './run-panel.ts';
import './run-panel.ts';
import './experiments.ts';
import './plan-bars.ts';

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

/**
 * The page: the planner form, the estimate it gives, and the WebGPU adapter the engine found.
 * The form's state lives in the URL (decoded once on load, replaced on every valid change),
 * so a plan can be shared as a link; a link's bad settings are listed and their defaults used.
 *
 * @csspart header - the title bar
 */
@customElement('vl-app')
export class VlApp extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-height: 100vh;
      color-scheme: light dark;
      --vl-bg: #fbfbfd;
      --vl-fg: #1b1b1f;
      --vl-surface: #ffffff;
      --vl-border: #d0d0d7;
      --vl-muted: #5f5f6b;
      --vl-accent: #0b57d0;
      --vl-error: #b00020;
      --vl-ok: #1a7f37;
      --vl-warn-bg: #fff3cd;
      --vl-warn-fg: #664d03;
      background: var(--vl-bg);
      color: var(--vl-fg);
      font-family: system-ui, sans-serif;
      line-height: 1.4;
    }
    @media (prefers-color-scheme: dark) {
      :host {
        --vl-bg: #16161a;
        --vl-fg: #e8e8ee;
        --vl-surface: #1f1f25;
        --vl-border: #3a3a44;
        --vl-muted: #a0a0ad;
        --vl-accent: #8ab4f8;
        --vl-error: #ff8a80;
        --vl-ok: #7ee2a8;
        --vl-warn-bg: #4a3b00;
        --vl-warn-fg: #ffe08a;
      }
    }
    header {
      display: flex;
      align-items: baseline;
      gap: 1rem;
      padding: 0.75rem 1.5rem;
      border-bottom: 1px solid var(--vl-border);
    }
    h1 {
      font-size: 1.4rem;
      margin: 0;
    }
    header p {
      margin: 0;
      color: var(--vl-muted);
    }
    main {
      display: grid;
      grid-template-columns: minmax(18rem, 26rem) minmax(0, 1fr) minmax(14rem, 20rem);
      gap: 1.5rem;
      padding: 1rem 1.5rem 2rem;
      align-items: start;
    }
    @media (max-width: 1100px) {
      main {
        grid-template-columns: minmax(18rem, 26rem) minmax(0, 1fr);
      }
      aside {
        grid-column: 1 / -1;
      }
    }
    @media (max-width: 700px) {
      main {
        grid-template-columns: minmax(0, 1fr);
      }
    }
    .error {
      color: var(--vl-error);
      font-weight: 600;
    }
    vl-notice {
      margin: 0.75rem 1.5rem 0;
    }
    .engine-status {
      margin: 0 0 0.75rem;
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
  `;

  private readonly engine = new EngineController(this);
  /** The URL's plan, read once; bad fields already replaced by their defaults. */
  private readonly fromUrl = decodePlanState(location.search);
  /** The form's starting point; never reassigned, so typing is not overwritten. */
  private readonly initialConfig: PlanConfig = this.fromUrl.config;

  /** What was wrong with the link the page was opened with, until dismissed. */
  @state() private urlProblems: readonly string[] = this.fromUrl.problems;
  @state() private estimated: Estimated = tryEstimate(this.initialConfig);
  /** The last valid plan, kept (dimmed) while the form is invalid. */
  @state() private shown: Plan | null = this.estimated.plan;
  @state() private stale = false;
  /** The form's last valid config, for the run panel. */
  @state() private config: PlanConfig = this.initialConfig;
  /** The run panel's last report, for the measured bar. */
  @state() private runReport: EngineRunReport | null = null;

  /** The run panel's way to the engine: the controller's validated run, and its cancel of that run. */
  private readonly runner: RunEngine = {
    run: (config, onProgress) => this.engine.run(config, onProgress),
    cancel: () => this.engine.cancel(),
  };

  override render() {
    const { status, adapter, error, deviceErrors, notice } = this.engine;
    return html`
      <header part="header">
        <h1>vramlab</h1>
        <p>Will this training run fit, and why?</p>
      </header>
      ${this.urlProblems.length > 0
        ? html`<vl-notice
            data-testid="url-problems"
            heading="Some settings in this link could not be used; the defaults are shown instead."
            .items=${this.urlProblems}
            @vl-notice-dismiss=${this.handleUrlProblemsDismiss}
          ></vl-notice>`
        : nothing}
      <main>
        <section aria-label="Planner">
          <vl-plan-form
            .config=${this.initialConfig}
            @vl-config-change=${this.handleConfigChange}
            @vl-config-invalid=${this.handleConfigInvalid}
          ></vl-plan-form>
        </section>
        <section aria-label="Estimate">
          ${this.estimated.error
            ? html`<p class="error" role="alert" data-testid="estimate-error">${this.estimated.error}</p>`
            : nothing}
          <vl-plan-bars
            .plan=${this.shown}
            .report=${this.runReport}
            .adapter=${adapter}
            framework=${this.config.framework}
            ?stale=${this.stale || this.estimated.error !== null}
          ></vl-plan-bars>
          <vl-plan-breakdown .plan=${this.shown} ?stale=${this.stale || this.estimated.error !== null}></vl-plan-breakdown>
          <vl-run-panel
            .planConfig=${this.config}
            .formInvalid=${this.stale || this.estimated.error !== null}
            .engine=${this.runner}
            .engineStatus=${status}
            .engineError=${error?.message ?? ''}
            @vl-run-report=${this.handleRunReport}
          ></vl-run-panel>
          <vl-experiments .planConfig=${this.config} .engine=${this.runner} .engineStatus=${status} .adapter=${adapter}></vl-experiments>
        </section>
        <aside aria-label="GPU">
          <p class="engine-status" role="status" data-testid="engine-status" data-tone=${notice?.tone ?? ''}>${notice?.message ?? ''}</p>
          <vl-adapter-card .status=${status} .adapter=${adapter} .error=${error} .deviceErrors=${deviceErrors}></vl-adapter-card>
        </aside>
      </main>
    `;
  }

  private handleConfigChange(e: CustomEvent<ConfigChangeDetail>): void {
    this.estimated = tryEstimate(e.detail.config);
    this.config = e.detail.config;
    if (this.estimated.plan) this.shown = this.estimated.plan;
    this.stale = false;
    // replaceState, not pushState: every keystroke is a change, and Back should leave the page.
    history.replaceState(history.state, '', urlFor(e.detail.config));
  }

  private handleRunReport(e: CustomEvent<RunReportDetail>): void {
    this.runReport = e.detail.report;
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
