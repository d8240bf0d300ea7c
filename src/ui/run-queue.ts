/**
 * Runs a list of jobs one after another on the shared engine, for the run panel (one job),
 * the experiments and the lessons: each awaited, so the page keeps answering; a failing job
 * records its error and the next one starts; Cancel stops the run in flight (the worker frees
 * its buffers) and the ones after it. While it runs it holds the engine for its owner, so the
 * other panels wait, and it says how far it is and how long is left: the time model's
 * prediction per job, corrected by how fast the jobs so far actually went.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import type { Plan } from '../protocol/plan.ts';
import type { RunProgress } from '../protocol/run.ts';
import type { LabOwner, LabRunner } from './lab-runner.ts';
import { estimateRun } from './run-estimate.ts';
import { shapeKey } from './device-speed.ts';

export interface QueueJob {
  /** Unique in its queue and safe in a test id: "full", "sqrt-amp-bf16", "8". */
  id: string;
  /** How progress and tables name it: "full", "batch 8". */
  label: string;
  /** The x of a sweep point. */
  value?: number;
  /** null when the job cannot run; `skip` says why. */
  config: EngineRunConfig | null;
  skip?: string;
}

export const POINT_STATUSES = ['pending', 'running', 'done', 'failed', 'skipped', 'cancelled'] as const;
export type PointStatus = (typeof POINT_STATUSES)[number];

export interface QueuePoint extends QueueJob {
  status: PointStatus;
  /** The planner's framework-vramlab plan for `config` (the same configuration the run measures). */
  estimate: Plan | null;
  report: EngineRunReport | null;
  failure: { name: string; message: string } | null;
  /** Predicted wall time before it started, ms. */
  predictedMs: number;
}

export const QUEUE_PHASES = ['idle', 'running', 'done', 'cancelled'] as const;
export type QueuePhase = (typeof QUEUE_PHASES)[number];

export const failureOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });

export class RunQueueController implements ReactiveController {
  phase: QueuePhase = 'idle';
  points: QueuePoint[] = [];
  /** Index of the point running now. */
  current = -1;
  progress: RunProgress | null = null;
  cancelling = false;
  /** Counts finished queues, so a test (or a person) can tell a new result from the last one. */
  finished = 0;
  /** performance.now() when the queue started, and when the running job started. */
  private startedAt = 0;
  private jobStartedAt = 0;
  private runner: LabRunner | null = null;
  private token = 0;

  constructor(
    private readonly host: ReactiveControllerHost,
    readonly owner: LabOwner,
    private readonly onDone: (points: QueuePoint[]) => void = () => {},
  ) {
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    if (this.phase === 'running') void this.cancel();
  }

  get running(): boolean {
    return this.phase === 'running';
  }

  /** Predicted wall time of the whole queue, ms. */
  get predictedMs(): number {
    return this.points.reduce((a, p) => a + (p.status === 'skipped' ? 0 : p.predictedMs), 0);
  }

  /** How far the queue is, 0..1, weighted by each job's predicted time. */
  get fraction(): number {
    const total = this.predictedMs;
    if (total <= 0) return 0;
    let done = 0;
    this.points.forEach((p, i) => {
      if (p.status === 'skipped') return;
      if (i < this.current || (p.status !== 'pending' && p.status !== 'running')) done += p.predictedMs;
      else if (i === this.current && this.progress && this.progress.steps > 0) done += (p.predictedMs * this.progress.step) / this.progress.steps;
    });
    return Math.min(1, done / total);
  }

  /** Time left, ms: the prediction, scaled by how the finished jobs compared with theirs. */
  get remainingMs(): number {
    const elapsed = performance.now() - this.startedAt;
    let predictedDone = 0;
    let actualDone = 0;
    for (const p of this.points) {
      if (p.status === 'done' && p.report) {
        predictedDone += p.predictedMs;
        // The prediction includes the compile: the run's warm-up, before its first step.
        actualDone += p.report.timing.warmupMs + p.report.timing.stepsMs.reduce((a, b) => a + b, 0);
      }
    }
    const pace = predictedDone > 0 && actualDone > 0 ? actualDone / predictedDone : 1;
    let left = 0;
    this.points.forEach((p, i) => {
      if (p.status === 'pending') left += p.predictedMs * pace;
      if (i === this.current) left += Math.max(0, p.predictedMs * pace - (performance.now() - this.jobStartedAt));
    });
    return Number.isFinite(left) ? Math.max(0, left) : Math.max(0, this.predictedMs - elapsed);
  }

  /** Takes the engine for the owner and runs the jobs; false when another panel holds it. */
  async start(runner: LabRunner, jobs: QueueJob[]): Promise<boolean> {
    if (this.phase === 'running' || !runner.acquire(this.owner)) return false;
    const token = ++this.token;
    this.runner = runner;
    this.phase = 'running';
    this.cancelling = false;
    this.startedAt = performance.now();
    const compiled = new Set<string>();
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
      let predictedMs = 0;
      if (!skipped && j.config) {
        // Shapes an earlier job of this queue compiles are compiled for the later ones.
        predictedMs = runner.predictMs(j.config, compiled);
        compiled.add(shapeKey(j.config));
      }
      return {
        ...j,
        skip,
        status: skipped ? 'skipped' : 'pending',
        estimate: plan,
        report: null,
        failure: skipped ? { name: 'Skipped', message: skip ?? 'not runnable' } : null,
        predictedMs: Math.max(0, predictedMs),
      };
    });
    this.host.requestUpdate();
    try {
      for (let i = 0; i < this.points.length; i++) {
        if (token !== this.token || this.cancelling) break;
        const p = this.points[i]!;
        if (p.status !== 'pending' || !p.config) continue;
        this.current = i;
        this.jobStartedAt = performance.now();
        this.progress = { stage: 'allocating', step: 0, steps: p.config.steps };
        this.update(i, { status: 'running' });
        try {
          const report = await runner.run(this.owner, p.config, (pr) => {
            if (token !== this.token || this.current !== i) return;
            this.progress = pr;
            this.host.requestUpdate();
          });
          if (token !== this.token) return true;
          this.update(i, { status: 'done', report });
        } catch (e) {
          if (token !== this.token) return true;
          const failure = failureOf(e);
          this.update(i, { status: failure.name === 'Cancelled' ? 'cancelled' : 'failed', failure });
        }
      }
    } finally {
      runner.release(this.owner);
    }
    if (token !== this.token) return true;
    const cancelled = this.cancelling;
    this.points = this.points.map((p) => (p.status === 'pending' ? { ...p, status: 'cancelled' } : p));
    this.phase = cancelled ? 'cancelled' : 'done';
    this.current = -1;
    this.progress = null;
    this.cancelling = false;
    this.finished += 1;
    this.host.requestUpdate();
    this.onDone(this.points);
    return true;
  }

  async cancel(): Promise<void> {
    if (this.phase !== 'running' || !this.runner) return;
    this.cancelling = true;
    this.host.requestUpdate();
    try {
      await this.runner.cancel();
    } catch {
      // A dead worker cannot be cancelled; its run fails with WorkerFailed on its own.
    }
  }

  /** Forgets the last result (e.g. when it no longer matches the settings). */
  clear(): void {
    if (this.phase === 'running') return;
    this.phase = 'idle';
    this.points = [];
    this.host.requestUpdate();
  }

  private update(i: number, changes: Partial<QueuePoint>): void {
    this.points = this.points.map((p, j) => (j === i ? { ...p, ...changes } : p));
    this.host.requestUpdate();
  }
}
