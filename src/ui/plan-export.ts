/**
 * A plan as files: JSON (the config and the whole Plan under a version header) and CSV (one
 * row per category, the peak, the overheads, the total and every term with its formula and
 * source), for a spreadsheet. Pure functions: no DOM, so the unit tests run them in Node.
 */
import { version as VRAMLAB_VERSION } from '../../package.json';
import type { PlanConfig } from '../protocol/config.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type Plan } from '../protocol/plan.ts';
import { toCsv } from './csv.ts';
import { fileSafe, fileStamp } from './download.ts';

/** Names the shape of the exported JSON; bump the number when it changes incompatibly. */
export const PLAN_SCHEMA = 'vramlab.plan/1';

export const PLAN_CSV_HEADER = ['kind', 'key', 'label', 'bytes', 'formula', 'source'] as const;

/** The plan and the config it answers, as pretty-printed JSON under a `vramlab` header. */
export function planToJson(plan: Plan, config: PlanConfig, now: Date = new Date()): string {
  const doc = { vramlab: { version: VRAMLAB_VERSION, schema: PLAN_SCHEMA, generatedAt: now.toISOString() }, config, plan };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * RFC 4180 CSV: a header (PLAN_CSV_HEADER), then rows of kind `category` (most held over the
 * step), `alive-at-peak`, `peak`, `overhead`, `total` and `term`. Bytes are exact integers.
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

/** `vramlab-plan-<model>-<UTC time>.json` / `.csv`. */
export function planFileName(plan: Plan, kind: 'json' | 'csv', now: Date = new Date()): string {
  return `vramlab-plan-${fileSafe(plan.model.id)}-${fileStamp(now)}.${kind}`;
}
