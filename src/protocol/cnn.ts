/**
 * A CNN training run on the engine (cnn-mnist: LeNet-5; cnn-cifar: a CIFAR ResNet), what the
 * UI, the worker and the CLI agree on; validated here like RunConfig. The model's shapes are
 * the preset's; cnn-cifar may be scaled to the device (blocks per stage, first-stage width).
 */
import { z } from 'zod';
import { DEFAULT_PLAN, parseWith, LIMITS, type PlanConfig } from './config.ts';
import { RUN_CHECKPOINTS, RUN_LIMITS, RUN_OPTIMIZERS, RUN_PRECISIONS, type RunReport } from './run.ts';

export const CNN_MODELS = ['cnn-mnist', 'cnn-cifar'] as const;
export type CnnModel = (typeof CNN_MODELS)[number];

const int = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(min, `${what} must be at least ${min}`)
    .max(max, `${what} must be at most ${max}`);

export const CnnRunConfigSchema = z
  .object({
    model: z.enum(CNN_MODELS, { error: `a CNN run names model ${CNN_MODELS.join(' or ')}` }),
    batch: int('batch', 1, LIMITS.batch),
    /** cnn-cifar: basic blocks per stage (3: ResNet-20, 1: ResNet-8). */
    blocks: int('blocks', 1, 64),
    /** cnn-cifar: channels of the first stage (16 published; 2× and 4× in the next stages). */
    width: int('width', 1, 1024),
    precision: z.enum(RUN_PRECISIONS),
    optimizer: z.enum(RUN_OPTIMIZERS),
    checkpoint: z.enum(RUN_CHECKPOINTS),
    steps: int('steps', 1, RUN_LIMITS.steps),
    /** Seeds weights and the synthetic images, so a run is reproducible. */
    seed: int('seed', 0, 2 ** 32 - 1),
    lr: z.number().positive('lr must be more than 0').max(10, 'lr must be at most 10').optional(),
  })
  .superRefine((c, ctx) => {
    if (c.model === 'cnn-mnist' && (c.blocks !== 3 || c.width !== 16)) {
      ctx.addIssue({ code: 'custom', path: ['blocks'], message: 'cnn-mnist has a fixed shape: blocks and width scale cnn-cifar only' });
    }
  });
export type CnnRunConfig = z.infer<typeof CnnRunConfigSchema>;

/** Whether a run config is a CNN's (its `model` is one of two ids, so `model ===` alone does not narrow a union). */
export function isCnnRun(c: { model: string }): c is CnnRunConfig {
  return (CNN_MODELS as readonly string[]).includes(c.model);
}

/** The lab's default CNN run: small enough for a CPU adapter. */
export const DEFAULT_CNN_RUN: CnnRunConfig = {
  model: 'cnn-mnist',
  batch: 8,
  blocks: 3,
  width: 16,
  precision: 'fp32',
  optimizer: 'adam',
  checkpoint: 'none',
  steps: 20,
  seed: 1,
};

export const DEFAULT_CNN_LR: Record<CnnRunConfig['optimizer'], number> = { sgd: 0.05, 'sgd-momentum': 0.02, adam: 3e-3, adamw: 3e-3 };

export function parseCnnRunConfig(input: unknown): CnnRunConfig {
  return parseWith(CnnRunConfigSchema, input);
}

/** The planner configuration whose framework-vramlab estimate a CNN run is checked against. */
export function planConfigOfCnn(run: CnnRunConfig): PlanConfig {
  return {
    ...DEFAULT_PLAN,
    model: run.model,
    ...(run.model === 'cnn-cifar' ? { cnn: { blocks: run.blocks, width: run.width } } : {}),
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

export type CnnRunReport = Omit<RunReport, 'config'> & { config: CnnRunConfig };
