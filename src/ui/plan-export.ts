/**
 * A plan as files: JSON (the config and the whole Plan under a version header) and CSV (one
 * row per category, the peak, the overheads, the total and every term with its formula and
 * source), for a spreadsheet. Pure functions: no DOM, so the unit tests run them in Node.
 */
import { version as VRAMLAB_VERSION } from '../../package.json';
import type { PlanConfig } from '../protocol/config.ts';
import type { Plan } from '../protocol/plan.ts';
import { fileSafe, fileStamp } from './download.ts';

/** The breakdown as CSV: src/protocol/csv.ts, shared with `vramlab estimate --format csv`. */
export { PLAN_CSV_HEADER, planToCsv } from '../protocol/csv.ts';

/** Names the shape of the exported JSON; bump the number when it changes incompatibly. */
export const PLAN_SCHEMA = 'vramlab.plan/1';

/** The plan and the config it answers, as pretty-printed JSON under a `vramlab` header. */
export function planToJson(plan: Plan, config: PlanConfig, now: Date = new Date()): string {
  const doc = { vramlab: { version: VRAMLAB_VERSION, schema: PLAN_SCHEMA, generatedAt: now.toISOString() }, config, plan };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** `vramlab-plan-<model>-<UTC time>.json` / `.csv`. */
export function planFileName(plan: Plan, kind: 'json' | 'csv', now: Date = new Date()): string {
  return `vramlab-plan-${fileSafe(plan.model.id)}-${fileStamp(now)}.${kind}`;
}
