/**
 * The pieces both experiment views show around their chart: Run and Cancel, how long the runs
 * should take, the progress bar with the time left, the status line, and each point's status.
 */
import { html, nothing } from 'lit';
import { formatDuration } from './device-speed.ts';
import { formatInteger } from './format.ts';
import type { LabRunner } from './lab-runner.ts';
import { LONG_RUN_MS } from './lesson-plans.ts';
import type { QueueJob, QueuePoint, RunQueueController, PointStatus } from './run-queue.ts';
import { shapeKey } from './device-speed.ts';
import { runsOfPoints } from './results-export.ts';
import './run-progress.ts';
import './chart-export-buttons.ts';
import './results-export-buttons.ts';

const STATUS_TEXT: Record<PointStatus, string> = {
  pending: 'waiting',
  running: 'running…',
  done: 'done',
  failed: 'failed',
  skipped: 'not run',
  cancelled: 'cancelled',
};

/** Predicted time of the jobs in order on this page's device, compiles counted once per shape. */
export function predictJobsMs(runner: LabRunner, jobs: QueueJob[]): number {
  const seen = new Set<string>();
  let ms = 0;
  for (const j of jobs) {
    if (!j.config || j.skip) continue;
    ms += runner.predictMs(j.config, seen);
    seen.add(shapeKey(j.config));
  }
  return ms;
}

/** Run, Cancel, and before a run how long it should take (said plainly past LONG_RUN_MS). */
export function renderRunControls(opts: {
  queue: RunQueueController;
  runner: LabRunner | null;
  jobs: QueueJob[];
  testid: string;
  label: string;
  why: string | null;
  onRun: () => void;
}) {
  const { queue, runner, jobs, testid, label, why, onRun } = opts;
  const blocked = runner?.blockedFor(queue.owner) ?? null;
  const reason = why ?? blocked;
  const predicted = runner && !queue.running && !reason ? predictJobsMs(runner, jobs) : 0;
  const runnable = jobs.filter((j) => j.config && !j.skip).length;
  return html`<div class="controls">
      <button type="button" data-testid=${testid} ?disabled=${queue.running || reason !== null || runnable === 0} @click=${onRun}>${label}</button>
      <button type="button" class="secondary" data-testid="${testid}-cancel" ?disabled=${!queue.running || queue.cancelling} @click=${() => void queue.cancel()}>
        Cancel
      </button>
      ${reason && !queue.running ? html`<span class="muted" data-testid="${testid}-why">${reason}</span>` : nothing}
    </div>
    ${predicted > 0
      ? html`<p class=${predicted > LONG_RUN_MS ? 'long' : 'muted'} data-testid="${testid}-duration" data-predicted-ms=${Math.round(predicted)}>
          ${runnable} run${runnable === 1 ? '' : 's'}, ${formatDuration(predicted)} on this device${predicted > LONG_RUN_MS ? '; lower the steps or the batch for a quicker one' : ''}.
        </p>`
      : nothing}`;
}

/** The progress bar while running, and the status line (its data-phase and data-finished are for tests). */
export function renderQueueStatus(queue: RunQueueController, unit: string, testid: string) {
  const n = queue.points.length;
  let text = '';
  if (queue.phase === 'running') {
    const p = queue.points[queue.current];
    const pr = queue.progress;
    const stage = !pr ? '' : pr.stage === 'allocating' || pr.stage === 'compiling' ? pr.stage : pr.stage === 'done' ? 'finishing' : `step ${pr.step} of ${pr.steps}`;
    text = p ? `${unit} ${queue.current + 1}/${n} (${p.label}): ${stage}` : 'starting…';
  } else if (queue.phase === 'done') {
    const failed = queue.points.filter((p) => p.status !== 'done').length;
    text = `Done: ${n - failed} of ${n} ran${failed ? `; ${failed} did not (see the table)` : ''}.`;
  } else if (queue.phase === 'cancelled') {
    text = 'Cancelled; nothing is left allocated.';
  }
  return html`${queue.running
      ? html`<vl-run-progress
          label="experiment runs"
          .detail=${''}
          .fraction=${queue.fraction}
          .remaining=${() => queue.remainingMs}
          ?cancelling=${queue.cancelling}
          @vl-cancel=${() => void queue.cancel()}
        ></vl-run-progress>`
      : nothing}
    <p role="status" class="muted" data-testid=${testid} data-phase=${queue.phase} data-finished=${queue.finished}>${text}</p>`;
}

/** "exact", "+12 B vs estimate", "failed: BufferTooLarge: …" */
export function statusText(p: QueuePoint): string {
  if (p.status === 'done' && p.report && p.estimate) {
    const d = p.report.actual.peakBytes - p.estimate.peak.bytes;
    return d === 0 ? 'exact' : `${d > 0 ? '+' : '−'}${formatInteger(Math.abs(d))} B vs estimate`;
  }
  if ((p.status === 'failed' || p.status === 'skipped') && p.failure) {
    return `${STATUS_TEXT[p.status]}: ${p.failure.name === 'Skipped' ? '' : `${p.failure.name}: `}${p.failure.message}`;
  }
  return STATUS_TEXT[p.status];
}

/** After the runs: save the chart (when one is drawn) and the runs. `what` names the files: "tradeoff". */
export function renderSaves(queue: RunQueueController, what: string, chart: (() => SVGSVGElement | null) | null) {
  if (queue.points.length === 0 || queue.running) return nothing;
  return html`<div class="controls">
    <span class="muted">save</span>
    ${chart ? html`<vl-chart-export what="${what} chart" .name=${`vramlab-experiment-${what}`} .target=${chart}></vl-chart-export>` : nothing}
    <vl-results-export what="experiment ${what}" .runs=${runsOfPoints(queue.points)}></vl-results-export>
  </div>`;
}
