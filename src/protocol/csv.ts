/**
 * RFC 4180 CSV, shared by the page's exports and `vramlab … --format csv`, so a spreadsheet
 * gets the same columns from either: the plan's breakdown, the `fit` changes, and one row per
 * run (lessons, experiments, `run` and its sweeps). Pure functions over protocol types.
 */
import type { PlanConfig } from './config.ts';
import type { AnyEngineRunConfig, AnyEngineRunReport } from './engine-api.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type Plan } from './plan.ts';

/**
 * One CSV field: numbers as they are; text quoted when it holds a comma, quote or line break,
 * and prefixed with ' when it starts like a spreadsheet formula (=, +, -, @), so opening the
 * file never runs anything (OWASP "CSV injection").
 */
export function csvCell(v: string | number): string {
  if (typeof v === 'number') return String(v);
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Rows (the header first) as CSV text with CRLF line ends. */
export function toCsv(rows: readonly (readonly (string | number)[])[]): string {
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

export const PLAN_CSV_HEADER = ['kind', 'key', 'label', 'bytes', 'formula', 'source'] as const;

/**
 * A plan's breakdown: a header (PLAN_CSV_HEADER), then rows of kind `category` (most held over
 * the step), `alive-at-peak`, `peak`, `overhead`, `total` and `term`. Bytes are exact integers.
 */
export function planToCsv(plan: Plan): string {
  const rows: (string | number)[][] = [[...PLAN_CSV_HEADER]];
  for (const c of PLAN_CATEGORIES) rows.push(['category', c, CATEGORY_LABELS[c], plan.bytes[c], '', '']);
  for (const c of PLAN_CATEGORIES) rows.push(['alive-at-peak', c, CATEGORY_LABELS[c], plan.peak.alive[c], '', '']);
  rows.push(['peak', plan.peak.phase, `peak at ${plan.peak.at}`, plan.peak.bytes, '', '']);
  rows.push(['overhead', 'cudaContext', 'CUDA context', plan.overhead.cudaContextBytes, '', '']);
  rows.push(['overhead', 'allocator', 'caching allocator', plan.overhead.allocatorBytes, '', '']);
  rows.push(['total', 'total', 'peak + overheads', plan.totalBytes, '', '']);
  for (const t of plan.terms) rows.push(['term', t.category, t.label, t.bytes, t.formula, t.source]);
  return toCsv(rows);
}

/** What a fit answer (estimate/fit.ts FitResult) has that the CSV shows; a structural type, since protocol/ imports no estimate/. */
export interface FitCsvInput {
  capacityBytes: number;
  current: { peakBytes: number; totalBytes: number; fits: boolean; headroomBytes: number };
  suggestions: readonly {
    change: string;
    levers: readonly string[];
    patch: Partial<PlanConfig>;
    peakBytes: number;
    totalBytes: number;
    headroomBytes: number;
    cost: { kind: string; extraFlopsFraction: number; gpus: number; note: string };
  }[];
  largestBatch: { value: number; peakBytes: number; totalBytes: number; atLimit: boolean } | null;
  largestSeq?: { value: number; peakBytes: number; totalBytes: number; atLimit: boolean } | null;
}

export const FIT_CSV_HEADER = ['kind', 'change', 'levers', 'patch', 'peak_bytes', 'total_bytes', 'headroom_bytes', 'fits', 'cost_kind', 'extra_flops_fraction', 'gpus', 'note'] as const;

/**
 * The `fit` answer: a `current` row (the configuration as given), one `suggestion` row per
 * change (cheapest first; `patch` is the change as JSON), then `largest-batch` and
 * `largest-seq` (the value in `change`). Headroom is against `capacityBytes`.
 */
export function fitToCsv(fit: FitCsvInput): string {
  const rows: (string | number)[][] = [[...FIT_CSV_HEADER]];
  const c = fit.current;
  rows.push(['current', '', '', '', c.peakBytes, c.totalBytes, c.headroomBytes, c.fits ? 'yes' : 'no', '', '', '', '']);
  for (const s of fit.suggestions) {
    rows.push(['suggestion', s.change, s.levers.join(' '), JSON.stringify(s.patch), s.peakBytes, s.totalBytes, s.headroomBytes, 'yes', s.cost.kind, s.cost.extraFlopsFraction, s.cost.gpus, s.cost.note]);
  }
  const largest = (kind: string, key: string, l: FitCsvInput['largestBatch'] | undefined) => {
    if (l === undefined) return;
    if (l === null) rows.push([kind, '', '', '', '', '', '', 'no', '', '', '', `no ${key} fits, even 1`]);
    else rows.push([kind, `${key} ${l.value}`, key, JSON.stringify({ [key]: l.value }), l.peakBytes, l.totalBytes, fit.capacityBytes - l.totalBytes, 'yes', '', '', '', l.atLimit ? 'the largest allowed; larger may fit' : '']);
  };
  largest('largest-batch', 'batch', fit.largestBatch);
  largest('largest-seq', 'seq', fit.largestSeq);
  return toCsv(rows);
}

/** Median, min and max of the steps after the first (the first compiles pipelines); all 0 when n is 0. */
export function steadyStepStats(stepsMs: readonly number[]): { n: number; median: number; min: number; max: number } {
  const xs = (stepsMs.length > 1 ? stepsMs.slice(1) : [...stepsMs]).sort((a, b) => a - b);
  if (xs.length === 0) return { n: 0, median: 0, min: 0, max: 0 };
  const m = xs.length >> 1;
  return { n: xs.length, median: xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2, min: xs[0]!, max: xs[xs.length - 1]! };
}

/** One run of a lesson, an experiment or a `vramlab run` sweep, finished or not. */
export interface ResultRun {
  id: string;
  label: string;
  status: string;
  config: AnyEngineRunConfig | null;
  /** The estimate's peak of the same configuration (framework vramlab), when there is one. */
  estimatedPeakBytes: number | null;
  report: AnyEngineRunReport | null;
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

/** The FLOPs of a step the engine counted; null for a report from before they were counted. */
export function countedFlops(r: AnyEngineRunReport): number | null {
  const work = (r as { work?: { totalFlops?: unknown } }).work;
  return typeof work?.totalFlops === 'number' ? work.totalFlops : null;
}

/** One row per run; empty cells where a run did not finish. */
export function resultsToCsv(runs: readonly ResultRun[]): string {
  const rows: (string | number)[][] = [[...RESULTS_CSV_HEADER]];
  for (const r of runs) {
    const c = r.config;
    const m = r.report;
    const t = m ? steadyStepStats(m.timing.stepsMs) : null;
    const flops = m ? countedFlops(m) : null;
    rows.push([
      r.id,
      r.label,
      r.status,
      c?.model ?? '',
      c?.precision ?? '',
      c?.checkpoint ?? '',
      c?.batch ?? '',
      c && 'seq' in c ? c.seq : '',
      c && 'layers' in c ? c.layers : '',
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
