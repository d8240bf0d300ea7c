import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { AdapterSummary } from '../protocol/engine-api.ts';
import { formatDuration } from './device-speed.ts';
import { AdapterConsumer, type EngineStatus } from './engine-controller.ts';
import { formatBytes } from './format.ts';
import { LabRunnerController, type LabRunner } from './lab-runner.ts';
import { LESSON_IDS, LESSONS, LONG_RUN_MS, describeLessonModel, lessonEffect, sizeLesson, type LessonId, type LessonOutcome, type LessonSizing } from './lesson-plans.ts';
import { RunQueueController, type QueuePoint } from './run-queue.ts';
import { deviceBudget } from './scale.ts';
import './lesson-result.ts';
import './run-progress.ts';

/** The detail of `vl-lesson-done`. */
export interface LessonDoneDetail {
  lesson: LessonId;
  outcomes: LessonOutcome[];
}

/** "4 runs of a GPT decoder of 6 blocks (…), 3 steps each" for the plan line. */
function describeShapes(s: LessonSizing): string {
  return `${s.variants.length} runs of ${describeLessonModel(s.variants[0]!.config)}, ${s.steps} steps each`;
}

/**
 * One-click lessons: each runs a few real training steps per variant on this device and shows
 * the effect it teaches with its size (lesson-plans.ts decides what runs). Before it starts, a
 * lesson says what it will run and how long it should take here; while it runs, a progress bar
 * with the time left and Cancel; afterwards, the result (lesson-result.ts). Lessons take the
 * page's shared engine (lab-runner.ts): while one runs, Run and the experiments wait, and the
 * other way round.
 *
 * @fires vl-lesson-done - a lesson finished; detail: LessonDoneDetail
 * @csspart cards - the row of lesson buttons
 */
@customElement('vl-lessons')
export class VlLessons extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    h2 {
      font-size: 1.15rem;
      margin: 0 0 0.3rem;
    }
    h3 {
      font-size: 1rem;
      margin: 0.8rem 0 0.2rem;
    }
    p {
      margin: 0.3rem 0;
    }
    .muted {
      color: var(--vl-muted, #666);
      font-size: 0.9rem;
    }
    .cards {
      display: grid;
      grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr));
      gap: 0.5rem;
      margin: 0.5rem 0;
    }
    .card {
      font: inherit;
      text-align: left;
      padding: 0.55rem 0.7rem;
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 8px;
      background: var(--vl-surface, transparent);
      color: inherit;
      cursor: pointer;
      display: grid;
      gap: 0.2rem;
    }
    .card strong {
      font-size: 0.95rem;
    }
    .card span {
      font-size: 0.82rem;
      color: var(--vl-muted, #666);
    }
    .card[aria-pressed='true'] {
      border-color: var(--vl-accent, #0b57d0);
      box-shadow: inset 0 0 0 1px var(--vl-accent, #0b57d0);
    }
    .card:focus-visible,
    button:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
    .start {
      display: flex;
      flex-wrap: wrap;
      gap: 0.5rem 0.9rem;
      align-items: center;
      margin: 0.4rem 0;
    }
    button.run {
      font: inherit;
      font-weight: 600;
      padding: 0.4rem 1.2rem;
      border-radius: 6px;
      border: 1px solid var(--vl-accent, #0b57d0);
      background: var(--vl-accent, #0b57d0);
      color: var(--vl-bg, #fff);
      cursor: pointer;
    }
    button.run:disabled {
      opacity: 0.5;
      cursor: not-allowed;
    }
    .long {
      color: var(--vl-warn-fg, #664d03);
      background: var(--vl-warn-bg, #fff3cd);
      padding: 0.3rem 0.6rem;
      border-radius: 6px;
    }
    .error {
      color: var(--vl-error, #b00020);
      font-weight: 600;
    }
  `;

  /** The page's shared engine; null until the page has one. */
  @property({ attribute: false }) runner: LabRunner | null = null;
  @property() engineStatus: EngineStatus = 'connecting';
  /** The adapter, when not provided through ADAPTER_REQUEST. */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;

  @state() private selected: LessonId = 'checkpointing';
  /** The last result of each lesson, kept while another is looked at. */
  @state() private results: Partial<Record<LessonId, LessonOutcome[]>> = {};
  /** Set while the throughput probe runs before the first lesson. */
  @state() private measuring = false;

  private readonly provided = new AdapterConsumer(this);
  private readonly lab = new LabRunnerController(this);
  /** Which lesson the queue is running (or ran last). */
  private queued: LessonId | null = null;
  private readonly queue = new RunQueueController(this, 'lessons', (points) => this.handleDone(points));

  private get currentAdapter(): AdapterSummary | null {
    return this.adapter ?? this.provided.adapter;
  }

  override willUpdate(): void {
    this.lab.track(this.runner);
    const adapter = this.currentAdapter;
    if (adapter && this.runner) this.runner.setAdapterKind(adapter.isFallbackAdapter);
  }

  /** The selected lesson's shapes for this device, or why it cannot be planned yet. */
  private sizing(): LessonSizing | { waiting: string } {
    const adapter = this.currentAdapter;
    if (!adapter || !this.runner) return { waiting: 'Waiting for the GPU engine to start…' };
    return sizeLesson(LESSONS[this.selected], deviceBudget(adapter), this.runner.speed, this.runner.work, this.runner.compiledShapes());
  }

  override render() {
    const def = LESSONS[this.selected];
    const sizing = this.sizing();
    const running = this.queue.running;
    const blocked = this.runner?.blockedFor('lessons') ?? null;
    const engineDown = this.engineStatus === 'error' ? 'No GPU engine: see the status above.' : null;
    const ready = !('waiting' in sizing) && !sizing.refusal && !blocked && !engineDown && this.engineStatus === 'ready';
    const outcomes = this.results[this.selected] ?? [];
    return html`
      <section aria-labelledby="lessons-heading" data-testid="lessons" data-phase=${this.queue.phase} data-finished=${this.queue.finished}>
        <h2 id="lessons-heading">Lessons</h2>
        <p class="muted">One click each: real training steps on this device, with the effect measured. Shapes are chosen for this adapter.</p>
        <div part="cards" class="cards" role="group" aria-label="Lessons">
          ${LESSON_IDS.map(
            (id) => html`<button
              type="button"
              class="card"
              data-testid=${`lesson-${id}`}
              aria-pressed=${this.selected === id ? 'true' : 'false'}
              ?disabled=${running && this.queued !== id}
              @click=${() => this.handleSelect(id)}
            >
              <strong>${LESSONS[id].title}</strong><span>${LESSONS[id].question}</span>
            </button>`,
          )}
        </div>
        <h3>${def.title}</h3>
        <p>${def.question}</p>
        ${'waiting' in sizing
          ? html`<p class="muted" data-testid="lesson-plan">${sizing.waiting}</p>`
          : sizing.refusal
            ? html`<p class="error" data-testid="lesson-refused">${sizing.refusal}</p>`
            : html`<p class="muted" data-testid="lesson-plan" data-predicted-ms=${Math.round(sizing.predictedMs)}>
                  ${describeShapes(sizing)}; ${formatDuration(sizing.predictedMs)} on this device${sizing.multiplier > 1 ? ` (${def.grows ?? 'batch'} ×${sizing.multiplier} for this adapter)` : ''}, kernels for new
                  shapes compiled first${this.runner?.measuredGflops ? ` (measured ${this.runner.measuredGflops.toPrecision(2)} GFLOP/s)` : ', sized again once its speed is measured'}.
                </p>
                ${sizing.predictedMs > LONG_RUN_MS
                  ? html`<p class="long" data-testid="lesson-long">This lesson takes ${formatDuration(sizing.predictedMs)} here (a software adapter compiles and runs slowly).</p>`
                  : nothing}`}
        <div class="start">
          <button type="button" class="run" data-testid="lesson-run" ?disabled=${!ready || running || this.measuring} @click=${this.handleRun}>Run this lesson</button>
          ${this.measuring ? html`<span class="muted" role="status" data-testid="lesson-measuring">Measuring this device's speed…</span>` : nothing}
          ${blocked ? html`<span class="muted" data-testid="lesson-blocked">${blocked}</span>` : engineDown ? html`<span class="error">${engineDown}</span>` : nothing}
        </div>
        ${running
          ? html`<vl-run-progress
              data-testid="lesson-progress"
              label="lesson runs"
              .detail=${this.progressText()}
              .fraction=${this.queue.fraction}
              .remaining=${() => this.queue.remainingMs}
              ?cancelling=${this.queue.cancelling}
              @vl-cancel=${this.handleCancel}
            ></vl-run-progress>`
          : nothing}
        ${this.queue.phase === 'cancelled' && this.queued === this.selected ? html`<p role="status" data-testid="lesson-cancelled">Cancelled; nothing is left allocated.</p>` : nothing}
        ${this.renderFailures()}
        <div aria-live="polite" data-testid="lesson-result-region">
          ${outcomes.length > 0
            ? html`<vl-lesson-result
                data-testid="lesson-result"
                data-lesson=${this.selected}
                .outcomes=${outcomes}
                .effect=${lessonEffect(this.selected, outcomes, formatBytes)}
                quantity=${def.quantity}
                lesson=${this.selected}
              ></vl-lesson-result>`
            : nothing}
        </div>
      </section>
    `;
  }

  private progressText(): string {
    const q = this.queue;
    const runnable = q.points.filter((p) => p.status !== 'skipped');
    const p = q.points[q.current];
    if (!p) return '';
    const n = runnable.indexOf(p) + 1;
    const step = q.progress ? (q.progress.stage === 'allocating' || q.progress.stage === 'compiling' ? q.progress.stage : `step ${q.progress.step}/${q.progress.steps}`) : '';
    return `run ${n} of ${runnable.length}, ${p.label}: ${step}`;
  }

  private renderFailures() {
    if (this.queued !== this.selected) return nothing;
    const failed = this.queue.points.filter((p) => p.status === 'failed' || p.status === 'skipped');
    if (failed.length === 0) return nothing;
    return html`<ul class="error" data-testid="lesson-failures">
      ${failed.map((p) => html`<li>${p.label}: ${p.failure?.message ?? 'did not run'}</li>`)}
    </ul>`;
  }

  private handleSelect(id: LessonId): void {
    if (this.queue.running) return;
    this.selected = id;
  }

  /**
   * The first lesson measures this device's FLOP rate (the engine's throughput probe, about a
   * second) and sizes itself again with it; later lessons use the rate and what runs taught.
   */
  private async handleRun(): Promise<void> {
    const runner = this.runner;
    if (!runner || this.queue.running || this.measuring || !runner.acquire('lessons')) return;
    try {
      this.measuring = true;
      await runner.measureOnce('lessons');
    } finally {
      this.measuring = false;
      runner.release('lessons');
    }
    const sizing = this.sizing();
    if ('waiting' in sizing || sizing.refusal) return;
    this.queued = this.selected;
    this.lessonVariants = sizing.variants;
    await this.queue.start(
      runner,
      sizing.variants.map((v) => ({ id: v.id, label: v.label, config: v.config })),
    );
  }

  /** The variants of the lesson the queue runs, to pair with its points. */
  private lessonVariants: LessonSizing['variants'] = [];

  private handleDone(points: QueuePoint[]): void {
    const lesson = this.queued;
    if (!lesson) return;
    const outcomes: LessonOutcome[] = [];
    points.forEach((p, i) => {
      const variant = this.lessonVariants[i];
      if (p.status === 'done' && p.report && variant) outcomes.push({ variant, report: p.report });
    });
    if (outcomes.length > 0) this.results = { ...this.results, [lesson]: outcomes };
    this.dispatchEvent(new CustomEvent<LessonDoneDetail>('vl-lesson-done', { detail: { lesson, outcomes }, bubbles: true, composed: true }));
  }

  private handleCancel(): void {
    void this.queue.cancel();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-lessons': VlLessons;
  }
}
