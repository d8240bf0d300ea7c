/**
 * A training run on the engine: what the UI, the worker and the CLI agree on. RunConfig is
 * untrusted input (URL, form, CLI flags) and is validated here; RunReport is plain data that
 * survives structured clone and JSON.
 */
import { z } from 'zod';
import { ACTIVATIONS, ConfigError, DEFAULT_PLAN, LIMITS, type PlanConfig } from './config.ts';
import type { AdapterSummary } from './engine-api.ts';
import type { CategoryBytes, Plan } from './plan.ts';

export const RUN_PRECISIONS = ['fp32', 'amp-fp16', 'amp-bf16'] as const;
export const RUN_OPTIMIZERS = ['sgd', 'sgd-momentum', 'adam', 'adamw'] as const;
export const RUN_CHECKPOINTS = ['none', 'full', 'sqrt'] as const;
export const RUN_LIMITS = { steps: 100_000 } as const;

const int = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(min, `${what} must be at least ${min}`)
    .max(max, `${what} must be at most ${max}`);

export const RunConfigSchema = z.object({
  model: z.literal('mlp', { error: 'the engine runs the mlp model: use model mlp' }),
  d: int('d', 1, LIMITS.d),
  hidden: int('hidden', 1, LIMITS.hidden),
  layers: int('layers', 1, LIMITS.layers),
  activation: z.enum(ACTIVATIONS),
  batch: int('batch', 1, LIMITS.batch),
  precision: z.enum(RUN_PRECISIONS),
  optimizer: z.enum(RUN_OPTIMIZERS),
  checkpoint: z.enum(RUN_CHECKPOINTS),
  steps: int('steps', 1, RUN_LIMITS.steps),
  /** Seeds weights and data, so a run is reproducible. */
  seed: int('seed', 0, 2 ** 32 - 1),
  /** Learning rate; the optimizer's default when absent. */
  lr: z.number().positive('lr must be more than 0').max(10, 'lr must be at most 10').optional(),
});
export type RunConfig = z.infer<typeof RunConfigSchema>;

export const DEFAULT_RUN: RunConfig = {
  model: 'mlp',
  d: 64,
  hidden: 256,
  layers: 2,
  activation: 'gelu',
  batch: 32,
  precision: 'fp32',
  optimizer: 'adam',
  checkpoint: 'none',
  steps: 10,
  seed: 1,
};

/** Default learning rates: small enough for the mean-of-squares task to fall steadily. */
export const DEFAULT_LR: Record<RunConfig['optimizer'], number> = {
  sgd: 0.05,
  'sgd-momentum': 0.02,
  adam: 1e-3,
  adamw: 1e-3,
};

export function parseRunConfig(input: unknown): RunConfig {
  const r = RunConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.') || 'config';
  throw new ConfigError(`${field}: ${issue.message}`, field);
}

/** The planner configuration whose `framework: vramlab` estimate this run is checked against. */
export function planConfigOf(run: RunConfig): PlanConfig {
  return {
    ...DEFAULT_PLAN,
    model: 'mlp',
    mlp: { d: run.d, hidden: run.hidden, layers: run.layers, activation: run.activation },
    mode: 'train',
    batch: run.batch,
    microBatch: undefined,
    precision: run.precision,
    optimizer: run.optimizer,
    checkpoint: run.checkpoint,
    framework: 'vramlab',
    loraRank: 0,
    qlora: false,
    zero: 0,
    gpus: 1,
  };
}

export const PHASE_NAMES = ['forward', 'backward', 'recompute', 'optimizer'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface RunProgress {
  stage: 'allocating' | 'step' | 'done';
  step: number;
  steps: number;
  loss?: number;
}

export interface RunReport {
  adapter: AdapterSummary;
  config: RunConfig;
  /** The planner's framework-vramlab estimate for this configuration. */
  estimate: Plan;
  actual: {
    /** Most bytes live at once during a step (requested sizes; readback staging excluded). */
    peakBytes: number;
    /** The most each category held during a step. */
    bytes: CategoryBytes;
    /** What was alive at the peak. */
    aliveAtPeak: CategoryBytes;
    /** The same peak in allocated (4-byte aligned) sizes. */
    allocatedPeakBytes: number;
    /** Allocated bytes held at once including released-but-unflushed buffers. */
    physicalPeakBytes: number;
    /** Readback buffers (timestamps, loss): outside the step's accounting. */
    stagingBytes: number;
    /** After dispose(): must be 0. */
    liveAfterDisposeBytes: number;
  };
  timing: {
    /** Median wall time of a step after the first (the first compiles pipelines). */
    stepMs: number;
    /** GPU (timestamp-query) or wall time per phase, median over steps after the first. */
    phasesMs: Record<PhaseName, number>;
    source: 'timestamp-query' | 'wall-clock';
  };
  loss: number[];
  /** Steps skipped by dynamic loss scaling (non-finite gradients). */
  skippedSteps: number;
  /** Live bytes by category over the last step, one point per allocation or release. */
  timeline: { op: number; label: string; bytes: CategoryBytes }[];
}
