/** Lines the estimate's timeline up with the measured one, op by op. Pure: no DOM. */
import { PLAN_CATEGORIES, type CategoryBytes, type Plan } from '../protocol/plan.ts';
import type { RunReport } from '../protocol/run.ts';

const total = (b: CategoryBytes): number => PLAN_CATEGORIES.reduce((s, c) => s + b[c], 0);

/**
 * Where each estimate point sits on the measured x axis (in event slots): a point for the
 * most bytes an op holds ('max') at the measured event where that op's live bytes peak, and a
 * point for its end ('end') after its last ledger event, so estimate and measurement line up
 * op by op (ops are the ledger's labels). Null when any point names no op the measurement has
 * (the estimate then spreads evenly, and the chart says so).
 */
export function alignEstimate(estimate: Plan['timeline'], measured: RunReport['timeline']): number[] | null {
  if (estimate.length === 0) return [];
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  measured.forEach((p, i) => {
    if (!first.has(p.label)) first.set(p.label, i);
    last.set(p.label, i);
  });
  const totals = measured.map((p) => total(p.bytes));
  const xs: number[] = [];
  for (const e of estimate) {
    const from = e.op === undefined ? undefined : first.get(e.op);
    const to = e.op === undefined ? undefined : last.get(e.op);
    if (from === undefined || to === undefined) return null;
    if (e.at === 'max') {
      // The op's range starts with the state just before its first event.
      let best = Math.max(0, from - 1);
      for (let i = best; i <= to; i++) if (totals[i]! > totals[best]!) best = i;
      xs.push(best + 0.5);
    } else {
      xs.push(to + 1);
    }
  }
  return xs;
}
