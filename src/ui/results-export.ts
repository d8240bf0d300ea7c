/**
 * Lesson and experiment results as files: JSON (every run's config, estimate summary and
 * measurement under a version header) and CSV (one row per run), for a spreadsheet or a
 * lecture's notes. Pure functions: no DOM, so the unit tests run them in Node.
 */
import { version as VRAMLAB_VERSION } from '../../package.json';
import { countedFlops, type ResultRun } from '../protocol/csv.ts';
import { fileSafe, fileStamp } from './download.ts';
import type { QueuePoint } from './run-queue.ts';

/** One row per run as CSV: src/protocol/csv.ts, shared with `vramlab run --format csv`. */
export { RESULTS_CSV_HEADER, resultsToCsv, type ResultRun } from '../protocol/csv.ts';

/** Names the shape of the exported JSON; bump the number when it changes incompatibly. */
export const RESULTS_SCHEMA = 'vramlab.results/1';

/** What ran (`what`: "lesson checkpointing", "experiment tradeoff") and every run, as pretty-printed JSON under a `vramlab` header. */
export function resultsToJson(what: string, runs: readonly ResultRun[], now: Date = new Date()): string {
  const doc = {
    vramlab: { version: VRAMLAB_VERSION, schema: RESULTS_SCHEMA, generatedAt: now.toISOString() },
    what,
    runs: runs.map((r) => ({
      id: r.id,
      label: r.label,
      status: r.status,
      config: r.config,
      estimatedPeakBytes: r.estimatedPeakBytes,
      measured: r.report ? { peakBytes: r.report.actual.peakBytes, bytes: r.report.actual.bytes, aliveAtPeak: r.report.actual.aliveAtPeak } : null,
      countedFlops: r.report ? countedFlops(r.report) : null,
      stepsMs: r.report?.timing.stepsMs ?? null,
      adapter: r.report?.adapter.description || r.report?.adapter.vendor || null,
      failure: r.failure ?? null,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** `vramlab-<what>-<UTC time>.json` / `.csv`. */
export function resultsFileName(what: string, kind: 'json' | 'csv', now: Date = new Date()): string {
  return `vramlab-${fileSafe(what)}-${fileStamp(now)}.${kind}`;
}

/** A queue's points (experiments) as result runs. */
export function runsOfPoints(points: readonly QueuePoint[]): ResultRun[] {
  return points.map((p) => ({
    id: p.id,
    label: p.label,
    status: p.status,
    config: p.config,
    estimatedPeakBytes: p.estimate?.peak.bytes ?? null,
    report: p.report,
    failure: p.failure && p.status !== 'done' ? `${p.failure.name}: ${p.failure.message}` : undefined,
  }));
}
