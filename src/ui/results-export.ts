/**
 * Lesson and experiment results as files: JSON (every run's config, estimate summary and
 * measurement under a version header) and CSV (one row per run), for a spreadsheet or a
 * lecture's notes. Pure functions: no DOM, so the unit tests run them in Node.
 */
import { version as VRAMLAB_VERSION } from '../../package.json';
import type { EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import { PLAN_CATEGORIES } from '../protocol/plan.ts';
import { toCsv } from './csv.ts';
import { fileSafe, fileStamp } from './download.ts';
import { countedFlops } from './lesson-plans.ts';
import type { QueuePoint } from './run-queue.ts';
import { stepTimeSummary } from './step-time.ts';

/** Names the shape of the exported JSON; bump the number when it changes incompatibly. */
export const RESULTS_SCHEMA = 'vramlab.results/1';

/** One run of a lesson or experiment, finished or not. */
export interface ResultRun {
  id: string;
  label: string;
  status: string;
  config: EngineRunConfig | null;
  /** The estimate's peak of the same configuration (framework vramlab), when there is one. */
  estimatedPeakBytes: number | null;
  report: EngineRunReport | null;
  failure?: string;
}

export const RESULTS_CSV_HEADER = [
  'id',
  'label',
  'status',
  'model',
  'precision',
  'checkpoint',
  'batch',
  'seq',
  'layers',
  'estimated_peak_bytes',
  'measured_peak_bytes',
  ...PLAN_CATEGORIES.map((c) => `measured_${c}_bytes`),
  'counted_flops_per_step',
  'step_ms_median',
  'step_ms_min',
  'step_ms_max',
  'note',
] as const;

/** One row per run; empty cells where a run did not finish. */
export function resultsToCsv(runs: readonly ResultRun[]): string {
  const rows: (string | number)[][] = [[...RESULTS_CSV_HEADER]];
  for (const r of runs) {
    const c = r.config;
    const m = r.report;
    const t = m ? stepTimeSummary(m.timing.stepsMs) : null;
    const flops = m ? countedFlops(m) : null;
    rows.push([
      r.id,
      r.label,
      r.status,
      c?.model ?? '',
      c?.precision ?? '',
      c?.checkpoint ?? '',
      c?.batch ?? '',
      c?.model === 'gpt' ? c.seq : '',
      c?.layers ?? '',
      r.estimatedPeakBytes ?? '',
      m?.actual.peakBytes ?? '',
      ...PLAN_CATEGORIES.map((k) => m?.actual.bytes[k] ?? ''),
      flops ?? '',
      t && t.n > 0 ? t.median : '',
      t && t.n > 0 ? t.min : '',
      t && t.n > 0 ? t.max : '',
      r.failure ?? '',
    ]);
  }
  return toCsv(rows);
}

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
