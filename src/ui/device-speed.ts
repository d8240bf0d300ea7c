/**
 * How long a run will take on this device, said before it starts. Pure (no DOM, no GPU).
 *
 * A step costs a fixed time per dispatch (launch and driver overhead: it dominates small shapes
 * on a software adapter) plus its floating-point work at the device's rate; a configuration
 * whose shapes this page has not run yet first compiles its kernels (the engine specialises
 * pipelines on the matmul shapes, so a new batch × sequence costs a compile, a new checkpointing
 * mode does not). The model starts from priors for the adapter's kind and the measured matmul
 * rate, and learns from every finished run: the steady step time rescales the step terms, the
 * warm-up before the first step (its pipelines) plus the first step's excess over the steady
 * one sets the compile time.
 */
import { isCnnRun } from '../protocol/cnn.ts';
import type { EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';

/** What a step executes, as the engine counts it (estimate/vramlab-work.ts stepWork). */
export interface StepWorkSummary {
  totalFlops: number;
  dispatches: number;
}

export type WorkPredictor = (config: EngineRunConfig) => StepWorkSummary;

export interface SpeedModel {
  /** Launch overhead per dispatch, ms. */
  msPerDispatch: number;
  /** Floating-point operations per ms. */
  flopsPerMs: number;
  /** Compiling a new shape's kernels, ms. */
  compileMs: number;
  /** Runs this model has learned from. */
  learned: number;
}

/**
 * Priors by adapter kind, from this project's measurements: SwiftShader on 2 cores spends
 * about 4 ms a dispatch, runs about 0.3 GFLOP/s and takes about 12 s to compile a GPT's
 * kernels; a GPU is orders of magnitude faster on every term.
 */
export const SPEED_PRIORS = {
  software: { msPerDispatch: 4, flopsPerMs: 0.3e6, compileMs: 12_000 },
  gpu: { msPerDispatch: 0.05, flopsPerMs: 5e9, compileMs: 1_500 },
} as const;

export function priorSpeed(software: boolean, measuredGflops?: number): SpeedModel {
  const p = software ? SPEED_PRIORS.software : SPEED_PRIORS.gpu;
  const flopsPerMs = measuredGflops !== undefined && Number.isFinite(measuredGflops) && measuredGflops > 0 ? measuredGflops * 1e6 : p.flopsPerMs;
  return { msPerDispatch: p.msPerDispatch, flopsPerMs, compileMs: p.compileMs, learned: 0 };
}

/** The shapes a configuration compiles kernels for: runs with equal keys share every pipeline. */
export function shapeKey(c: EngineRunConfig): string {
  if (c.model === 'mlp') return `mlp ${c.d}x${c.hidden} b${c.batch} ${c.activation} ${c.precision} ${c.optimizer}`;
  if (isCnnRun(c)) return `${c.model} n${c.blocks} w${c.width} b${c.batch} ${c.precision} ${c.optimizer}`;
  if (c.model === 'llama') return `llama v${c.vocab} d${c.dModel} h${c.heads}/${c.kvHeads}x${c.headDim} i${c.inner} b${c.batch} s${c.seq} ${c.attention} ${c.precision} ${c.optimizer}`;
  return `gpt v${c.vocab} d${c.dModel} h${c.heads} b${c.batch} s${c.seq} ${c.attention} ${c.precision} ${c.optimizer}`;
}

export function predictStepMs(model: SpeedModel, work: StepWorkSummary): number {
  return work.dispatches * model.msPerDispatch + work.totalFlops / model.flopsPerMs;
}

/** The whole run: a compile when its shapes are new here, then every step. */
export function predictRunMs(model: SpeedModel, work: StepWorkSummary, steps: number, compiled: boolean): number {
  return (compiled ? 0 : model.compileMs) + steps * predictStepMs(model, work);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The model after a finished run: step terms rescaled so the run's steady step is predicted
 * exactly (averaged with what earlier runs taught), and, when the run compiled, the compile
 * time set from its warm-up and first step.
 */
export function learnSpeed(model: SpeedModel, work: StepWorkSummary, report: Pick<EngineRunReport, 'timing'>, compiled: boolean): SpeedModel {
  const times = report.timing.stepsMs;
  if (times.length < 2) return model;
  const steady = median(times.slice(1));
  const predicted = predictStepMs(model, work);
  if (!(steady > 0) || !(predicted > 0)) return model;
  // Geometric blend: the newest run counts as much as all before it together.
  const ratio = Math.sqrt(steady / predicted) ** (model.learned === 0 ? 2 : 1);
  const next: SpeedModel = {
    msPerDispatch: model.msPerDispatch * ratio,
    flopsPerMs: model.flopsPerMs / ratio,
    compileMs: model.compileMs,
    learned: model.learned + 1,
  };
  if (!compiled) next.compileMs = report.timing.warmupMs + Math.max(0, times[0]! - steady);
  return next;
}

/** "about 20 s", "about 2 min" */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 1) return 'under a second';
  if (s < 90) return `about ${Math.max(1, Math.round(s))} s`;
  return `about ${Math.round(s / 60)} min`;
}

