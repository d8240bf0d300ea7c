import { expect } from 'vitest';
import type { EngineRunReport } from '../../src/protocol/engine-api.ts';
import { PLAN_CATEGORIES, type CategoryBytes } from '../../src/protocol/plan.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';

const total = (b: CategoryBytes) => Object.values(b).reduce((a, x) => a + x, 0);

/**
 * Checks the framework-vramlab estimate's timeline against the ledger's, op by op: every
 * estimate point names an op of the measured step; an 'end' point holds the bytes live after
 * the op's last event, a 'max' point the most live from the op's start (the event before its
 * first) to its end; and every op the step measured has its points.
 */
export function expectTimelineAlignedToOps(r: EngineRunReport): void {
  const m = r.timeline;
  const est = r.estimate.timeline;
  expect(est.length).toBeGreaterThan(0);
  for (const p of est) {
    expect(p.op, p.label).toBeDefined();
    const last = m.findLastIndex((q) => q.label === p.op);
    expect(last, `op '${p.op}' in the measured step`).toBeGreaterThan(0);
    if (p.at === 'end') {
      expect(p.bytes, `end of '${p.op}'`).toEqual(m[last]!.bytes);
    } else {
      expect(p.at).toBe('max');
      let first = last;
      while (first > 1 && m[first - 1]!.label === p.op) first--;
      const span = m.slice(first - 1, last + 1);
      const most = span.reduce((a, q) => (total(q.bytes) > total(a.bytes) ? q : a));
      expect(total(p.bytes), `most during '${p.op}'`).toBe(total(most.bytes));
      expect(p.bytes, `most during '${p.op}', by category`).toEqual(most.bytes);
    }
  }
  // The event before the step belongs to the last one.
  expect(new Set(est.map((p) => p.op))).toEqual(new Set(m.slice(1).map((q) => q.label)));
}

/**
 * A run's framework-vramlab estimate is its ledger: the counted work is stepWork, the timeline
 * follows the ops, every category and the peak agree to the byte, nothing is left after dispose
 * and every loss is finite.
 */
export function expectEstimateIsLedger(r: EngineRunReport): void {
  expect(r.work).toEqual(stepWork(r.config));
  expectTimelineAlignedToOps(r);
  for (const c of PLAN_CATEGORIES) expect(r.actual.bytes[c], c).toBe(r.estimate.bytes[c]);
  expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
  expect(r.actual.liveAfterDisposeBytes).toBe(0);
  expect(r.loss.every(Number.isFinite)).toBe(true);
}
