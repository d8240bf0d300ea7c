/**
 * A training run: builds the model through the ledger, runs the steps, measures time per
 * phase, and reports the ledger's measurement next to the planner's estimate. Used by the
 * worker (browser) and the CLI (Node) alike; everything it allocates is gone when it returns,
 * also when it throws.
 */
import { estimate } from '../estimate/index.ts';
import type { OpenedDevice } from './device.ts';
import { MlpTrainer } from './graph/mlp.ts';
import { Ledger } from './ledger.ts';
import { StepRecorder } from './profiler.ts';
import { LEDGER_CATEGORIES, LEDGER_TO_PLAN_CATEGORY, type LedgerPoint } from '../protocol/ledger.ts';
import { type CategoryBytes, zeroCategories } from '../protocol/plan.ts';
import { PHASE_NAMES, type PhaseName, type RunConfig, type RunProgress, type RunReport, planConfigOf } from '../protocol/run.ts';

export interface RunOptions {
  onProgress?: (p: RunProgress) => void;
  /** Checked between steps: a cancelled run stops, frees everything and throws 'Cancelled'. */
  signal?: AbortSignal;
  /** Use wall-clock timing even where timestamp-query exists. */
  wallClock?: boolean;
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Plan-category bytes of a ledger point, readback staging left out. */
function planBytes(p: LedgerPoint): CategoryBytes {
  const out = zeroCategories();
  for (const c of LEDGER_CATEGORIES) if (c !== 'staging') out[LEDGER_TO_PLAN_CATEGORY[c]] += p.byCategory[c];
  return out;
}

const total = (c: CategoryBytes) => Object.values(c).reduce((a, b) => a + b, 0);

/** What the ledger held over one step: its points from `from` on, and the state just before. */
export function measureWindow(points: LedgerPoint[]): Pick<RunReport['actual'], 'peakBytes' | 'bytes' | 'aliveAtPeak' | 'allocatedPeakBytes'> {
  const bytes = zeroCategories();
  let peakBytes = 0;
  let aliveAtPeak = zeroCategories();
  let allocatedPeakBytes = 0;
  for (const p of points) {
    const b = planBytes(p);
    const t = total(b);
    if (t > peakBytes) {
      peakBytes = t;
      aliveAtPeak = b;
    }
    for (const k of Object.keys(bytes) as (keyof CategoryBytes)[]) bytes[k] = Math.max(bytes[k], b[k]);
    allocatedPeakBytes = Math.max(allocatedPeakBytes, p.liveAllocatedBytes - p.byCategory.staging);
  }
  return { peakBytes, bytes, aliveAtPeak, allocatedPeakBytes };
}

function cancelled(): Error {
  const e = new Error('the run was cancelled; nothing is left allocated');
  e.name = 'Cancelled';
  return e;
}

export async function runTraining(opened: OpenedDevice, cfg: RunConfig, opts: RunOptions = {}): Promise<RunReport> {
  const { device, summary } = opened;
  // Also refuses what the engine cannot run, before anything is allocated.
  const plan = estimate(planConfigOf(cfg));
  // Only the last step's events are reported: keep a few steps' worth (≈ 25 events per block
  // per step), so a long run's history stays bounded.
  const ledger = new Ledger(device, { historyLimit: 64 * (cfg.layers + 1) });
  let rec: StepRecorder | null = null;
  try {
    opts.onProgress?.({ stage: 'allocating', step: 0, steps: cfg.steps });
    const trainer = await MlpTrainer.create(device, ledger, cfg);
    // Segments per step: forward, the loss, each block's backward and recompute, optimizer.
    rec = await StepRecorder.create(device, ledger, 3 + 2 * cfg.layers, !opts.wallClock);
    const loss: number[] = [];
    const stepMs: number[] = [];
    const phases: Record<PhaseName, number>[] = [];
    let windowStart = 0;
    for (let s = 0; s < cfg.steps; s++) {
      if (opts.signal?.aborted) throw cancelled();
      // The state before the step is the last point before it.
      windowStart = Math.max(0, ledger.eventCount - 1);
      const t0 = performance.now();
      await trainer.step(rec);
      phases.push(await rec.finish());
      stepMs.push(performance.now() - t0);
      loss.push(await trainer.readLoss());
      opts.onProgress?.({ stage: 'step', step: s + 1, steps: cfg.steps, loss: loss[s]! });
    }
    const window = ledger.timeline(windowStart);
    const measured = measureWindow(window);
    const skippedSteps = await trainer.readSkippedSteps();
    const steady = (xs: number[]) => median(xs.length > 1 ? xs.slice(1) : xs);
    const phasesMs = Object.fromEntries(PHASE_NAMES.map((p) => [p, steady(phases.map((x) => x[p]))])) as Record<PhaseName, number>;
    const physicalPeakBytes = ledger.physicalPeakBytes;
    const stagingBytes = ledger.maxByCategory().staging;
    const source = rec.source;
    rec.destroy();
    rec = null;
    ledger.dispose();
    opts.onProgress?.({ stage: 'done', step: cfg.steps, steps: cfg.steps, loss: loss[loss.length - 1] });
    return {
      adapter: summary,
      config: cfg,
      estimate: plan,
      actual: { ...measured, physicalPeakBytes, stagingBytes, liveAfterDisposeBytes: ledger.liveBytes },
      timing: { stepMs: steady(stepMs), phasesMs, source },
      loss,
      skippedSteps,
      timeline: window.map((p) => ({ op: p.op, label: p.label, bytes: planBytes(p) })),
    };
  } finally {
    rec?.destroy();
    ledger.dispose();
  }
}
