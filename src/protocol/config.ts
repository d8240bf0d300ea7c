/**
 * The planner's configuration: the one schema that CLI flags, URL state and the UI form are
 * validated against before anything reaches estimate/ or the engine. Every bound here is a
 * sentence a user may read, so the messages say what is allowed.
 */
import { z } from 'zod';

export const MODES = ['train', 'inference'] as const;
export type Mode = (typeof MODES)[number];

export const PRECISIONS = ['fp32', 'amp-fp16', 'amp-bf16', 'fp16', 'bf16', 'int8', 'int4'] as const;
export type Precision = (typeof PRECISIONS)[number];

export const OPTIMIZERS = ['sgd', 'sgd-momentum', 'adam', 'adamw', 'adafactor', 'adam-8bit'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];

export const CHECKPOINTS = ['none', 'full', 'selective', 'sqrt'] as const;
export type Checkpoint = (typeof CHECKPOINTS)[number];

export const ATTENTIONS = ['eager', 'fused'] as const;
export type Attention = (typeof ATTENTIONS)[number];

export const FRAMEWORKS = ['pytorch', 'vramlab'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export const ACTIVATIONS = ['relu', 'gelu'] as const;
export type ActivationFn = (typeof ACTIVATIONS)[number];

export const ZERO_STAGES = [0, 1, 2, 3] as const;

/** Diffusion pipelines: which components stay on the GPU (Diffusers' CPU offload modes). */
export const PIPELINE_OFFLOADS = ['none', 'model', 'sequential'] as const;
export type PipelineOffload = (typeof PIPELINE_OFFLOADS)[number];

/** Diffusion pipelines: how the VAE decodes (all at once, one image at a time, in tiles). */
export const VAE_DECODES = ['full', 'sliced', 'tiled'] as const;

/** Diffusion pipelines: classifier-free guidance (the denoiser's batch doubled) or none. */
export const GUIDANCES = ['cfg', 'none'] as const;
export type ZeroStage = (typeof ZERO_STAGES)[number];

/** Upper bounds that keep every product below 2^53 and reject typos like --batch 1e12. */
export const LIMITS = {
  batch: 1 << 20,
  seq: 1 << 22,
  layers: 4096,
  d: 1 << 20,
  hidden: 1 << 22,
  imageSize: 8192,
  loraRank: 65536,
  gpus: 65536,
  gpuMemoryGiB: 1 << 20,
  images: 64,
  maxPixels: 1 << 26,
  steps: 1000,
} as const;

const posInt = (what: string, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .refine(Number.isFinite, { message: `${what} must be a finite number` })
    .refine(Number.isInteger, { message: `${what} must be a whole number` })
    .refine((v) => v >= 1, { message: `${what} must be at least 1` })
    .refine((v) => v <= max, { message: `${what} must be at most ${max}` });

/** The `mlp` model: L blocks of Linear(d→hidden)+bias, activation, Linear(hidden→d)+bias. */
export const MlpShapeSchema = z.object({
  d: posInt('d', LIMITS.d),
  hidden: posInt('hidden', LIMITS.hidden),
  layers: posInt('layers', LIMITS.layers),
  activation: z.enum(ACTIVATIONS),
});
export type MlpShape = z.infer<typeof MlpShapeSchema>;

export const PlanConfigSchema = z
  .object({
    /** A preset id (see estimate/presets.ts), `mlp`, or `hf` when `hfConfig` is given. */
    model: z.string().min(1, 'model must be named'),
    /** Shape of the `mlp` model; ignored for other models. */
    mlp: MlpShapeSchema,
    /** A parsed Hugging Face config.json, used when model is `hf`. Validated in estimate/hf.ts. */
    hfConfig: z.unknown().optional(),
    /** Image models' input side in pixels (square images, 3 channels); a diffusion pipeline's output resolution. */
    imageSize: posInt('image size', LIMITS.imageSize),
    /** Vision-language models: images per sample, their tokens added to the `seq` text tokens. Default 1. */
    images: posInt('images', LIMITS.images).optional(),
    /** Qwen2-VL-style models: the pixel budget per image (its processor's max_pixels). */
    maxPixels: posInt('max pixels', LIMITS.maxPixels).optional(),
    /** Diffusion inference: denoising steps (time, not memory). Default: the pipeline's. */
    steps: posInt('steps', LIMITS.steps).optional(),
    /** Diffusion inference: classifier-free guidance. Default: the pipeline's (on for SD, off for Flux.1-dev). */
    guidance: z.enum(GUIDANCES).optional(),
    vaeDecode: z.enum(VAE_DECODES).optional(),
    /** Diffusion inference: Diffusers' CPU offload of the pipeline's components (not the optimizer's offload). */
    pipelineOffload: z.enum(PIPELINE_OFFLOADS).optional(),
    /** Diffusion training: DreamBooth's prior preservation (instance and class images, the batch doubled). */
    priorPreservation: z.boolean().optional(),
    /** Diffusion training: train the (first) text encoder too. */
    trainTextEncoder: z.boolean().optional(),
    mode: z.enum(MODES),
    /** Samples per GPU per optimizer step (training) or per forward (inference). */
    batch: posInt('batch', LIMITS.batch),
    /** Samples per forward/backward; batch/microBatch steps of gradient accumulation. */
    microBatch: posInt('micro-batch', LIMITS.batch).optional(),
    /** Tokens per sample (transformers); for inference the context held in the KV cache. */
    seq: posInt('seq', LIMITS.seq),
    precision: z.enum(PRECISIONS),
    optimizer: z.enum(OPTIMIZERS),
    checkpoint: z.enum(CHECKPOINTS),
    attention: z.enum(ATTENTIONS),
    /** LoRA rank on the attention and MLP projections; 0 means full fine-tuning. */
    loraRank: z
      .number()
      .int('lora rank must be a whole number')
      .min(0, 'lora rank must be 0 (off) or more')
      .max(LIMITS.loraRank, `lora rank must be at most ${LIMITS.loraRank}`),
    /** QLoRA: 4-bit NF4 frozen base weights under LoRA adapters. */
    qlora: z.boolean(),
    zero: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
    gpus: posInt('gpus', LIMITS.gpus),
    /** Expert-parallel degree for mixture-of-experts models: experts are split over groups of this many GPUs. */
    ep: posInt('ep', LIMITS.gpus).optional(),
    framework: z.enum(FRAMEWORKS),
    /**
     * The card the page's verdict is for: a GPU catalog id (estimate/gpus.ts). Absent: the
     * default card. The estimate does not read it.
     */
    gpu: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'gpu must be a catalog id such as rtx-4090')
      .optional(),
    /**
     * An extra GPU size (GiB) added to the fit list, e.g. the card on your desk; the page's
     * verdict is then for this size ("custom"), so it and `gpu` are never both given.
     */
    gpuMemoryGiB: z
      .number({ error: 'gpu memory must be a number of GiB' })
      .positive('gpu memory must be more than 0 GiB')
      .max(LIMITS.gpuMemoryGiB, `gpu memory must be at most ${LIMITS.gpuMemoryGiB} GiB`)
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.microBatch !== undefined && c.batch % c.microBatch !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['microBatch'],
        message: `micro-batch must divide batch (${c.batch}); try ${largestDivisorAtMost(c.batch, c.microBatch)}`,
      });
    }
    if (c.qlora && c.loraRank === 0) {
      ctx.addIssue({ code: 'custom', path: ['qlora'], message: 'qlora needs a LoRA rank: add --lora-rank, e.g. 16' });
    }
    if (c.mode === 'train' && (c.precision === 'int8' || c.precision === 'int4') && !c.qlora) {
      ctx.addIssue({
        code: 'custom',
        path: ['precision'],
        message: `precision ${c.precision} is for inference or a QLoRA base; for training use fp32, amp-fp16, amp-bf16, fp16 or bf16`,
      });
    }
    if (c.gpu !== undefined && c.gpuMemoryGiB !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['gpu'], message: 'give a catalog gpu or a custom gpu memory size, not both' });
    }
    if (c.zero > 0 && c.mode !== 'train') {
      ctx.addIssue({ code: 'custom', path: ['zero'], message: 'zero sharding applies to training only; use --zero 0 for inference' });
    }
  });

export type PlanConfig = z.infer<typeof PlanConfigSchema>;

function largestDivisorAtMost(n: number, k: number): number {
  for (let d = Math.min(n, k); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

export const DEFAULT_PLAN: PlanConfig = {
  model: 'gpt2-small',
  mlp: { d: 1024, hidden: 4096, layers: 4, activation: 'gelu' },
  imageSize: 224,
  mode: 'train',
  batch: 8,
  seq: 1024,
  precision: 'amp-bf16',
  optimizer: 'adamw',
  checkpoint: 'none',
  attention: 'fused',
  loraRank: 0,
  qlora: false,
  zero: 0,
  gpus: 1,
  framework: 'pytorch',
};

/** Validation failure with one sentence per problem, each naming the field. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses untrusted input into a PlanConfig or throws ConfigError naming the first bad field. */
export function parsePlanConfig(input: unknown): PlanConfig {
  const r = PlanConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.') || 'config';
  throw new ConfigError(`${field}: ${issue.message}`, field);
}
