/**
 * A replayed PyTorch memory snapshot (memory-snapshot.ts) beside an estimate of the same plan:
 * the peak of each phase measured and estimated, and the error. Shared by `vramlab compare`
 * and the planner's snapshot drop.
 */
import type { ReplayPhase, SnapshotReplay } from './memory-snapshot.ts';
import { PHASES, PLAN_CATEGORIES, type Phase, type Plan } from './plan.ts';

/** The measured phases compared: PyTorch's events before its first forward count as 'other'. */
const COMPARED: readonly Phase[] = PHASES;

export interface PhaseComparison {
  phase: Phase | 'peak';
  measuredBytes: number | null;
  estimatedBytes: number;
  /** (estimated − measured) / measured; null without a measurement. */
  error: number | null;
}

export interface Comparison {
  snapshot: Omit<SnapshotReplay, 'curve'> & { path: string };
  estimate: { model: string; framework: string; peakBytes: number; peakPhase: Phase; phasePeakBytes: Record<Phase, number> };
  rows: PhaseComparison[];
  /** The replayed curve (bytes after each alloc or free, thinned), for a chart. */
  curve: SnapshotReplay['curve'];
}

/** The most the plan's timeline holds in each phase. */
export function estimatedPhasePeaks(plan: Plan): Record<Phase, number> {
  const out: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0 };
  for (const p of plan.timeline) out[p.phase] = Math.max(out[p.phase], PLAN_CATEGORIES.reduce((s, c) => s + p.bytes[c], 0));
  return out;
}

/** `path`: the file's name as the user gave it; `framework`: the estimate's (pytorch or vramlab). */
export function compareSnapshot(replay: SnapshotReplay, plan: Plan, path: string, framework: string): Comparison {
  const est = estimatedPhasePeaks(plan);
  const err = (m: number | null, e: number) => (m === null || m === 0 ? null : (e - m) / m);
  const measured = (p: ReplayPhase) => replay.phasePeakBytes[p];
  const rows: PhaseComparison[] = COMPARED.map((p) => ({ phase: p, measuredBytes: measured(p), estimatedBytes: est[p], error: err(measured(p), est[p]) }));
  rows.push({ phase: 'peak', measuredBytes: replay.peakBytes, estimatedBytes: plan.peak.bytes, error: err(replay.peakBytes, plan.peak.bytes) });
  const { curve, ...summary } = replay;
  return {
    snapshot: { ...summary, path },
    estimate: { model: plan.model.name, framework, peakBytes: plan.peak.bytes, peakPhase: plan.peak.phase, phasePeakBytes: est },
    rows,
    curve,
  };
}
