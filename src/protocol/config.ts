/**
 * The planner's configuration: the one schema that CLI flags, URL state and the UI form are
 * validated against before anything reaches estimate/ or the engine. Every bound here is a
 * sentence a user may read, so the messages say what is allowed.
 */
import { z } from 'zod';

export const MODES = ['train', 'inference'] as const;
export type Mode = (typeof MODES)[number];

export const PRECISIONS = ['fp32', 'amp-fp16', 'amp-bf16', 'fp16', 'bf16', 'int8', 'int4', 'fp8'] as const;
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

/** Pipeline schedules (Narayanan et al. 2021; Huang et al. 2019 for GPipe). */
export const PP_SCHEDULES = ['1f1b', 'interleaved', 'gpipe'] as const;
export type PpSchedule = (typeof PP_SCHEDULES)[number];

/** What leaves the GPU: ZeRO-Offload / FSDP CPU offload parts, or the checkpointed activations. */
export const OFFLOAD_PARTS = ['optimizer', 'params', 'both', 'activations'] as const;
export type OffloadPart = (typeof OFFLOAD_PARTS)[number];
export const OFFLOAD_TARGETS = ['cpu', 'nvme'] as const;
export type OffloadTarget = (typeof OFFLOAD_TARGETS)[number];

/** KV-cache storage: 16-bit, FP8 with a scale, or GGML's 32-value blocks. */
export const KV_DTYPES = ['fp16', 'bf16', 'fp8', 'q8_0', 'q4_0'] as const;
export type KvDtype = (typeof KV_DTYPES)[number];

/** torch.optim's three implementations of a step. */
export const OPTIMIZER_IMPLS = ['foreach', 'fused', 'for-loop'] as const;
export type OptimizerImpl = (typeof OPTIMIZER_IMPLS)[number];
export const OPTIMIZER_DTYPES = ['fp32', 'bf16'] as const;
export type OptimizerDtype = (typeof OPTIMIZER_DTYPES)[number];

/** Inference logits: the last position (generate) or every position (a plain forward). */
export const LOGITS = ['last', 'all'] as const;
export type Logits = (typeof LOGITS)[number];

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
  hostMemoryGiB: 1 << 24,
  microbatches: 65536,
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

/**
 * How a training step is split across GPUs beyond data parallelism (estimate/parallel.ts
 * resolves the defaults and checks the product against `gpus`). Every field may be absent:
 * absent means 1 (or off, or 1f1b).
 */
export const ParallelSchema = z.object({
  /** Tensor parallel size (Megatron: heads and MLP columns split). */
  tp: posInt('tp', LIMITS.gpus).optional(),
  /** Sequence parallel: what tensor parallel replicates is split by tp too. */
  sp: z.boolean().optional(),
  /** Pipeline stages. */
  pp: posInt('pp', LIMITS.gpus).optional(),
  /** Micro-batches per optimizer step through the pipeline (default: pp). */
  microbatches: posInt('microbatches', LIMITS.microbatches).optional(),
  ppSchedule: z.enum(PP_SCHEDULES).optional(),
  /** Model chunks per stage under the interleaved schedule (default 2). */
  virtualStages: posInt('virtual stages', 64).optional(),
  /** Context parallel: the sequence split across cp GPUs. */
  cp: posInt('cp', LIMITS.gpus).optional(),
});
export type ParallelConfig = z.infer<typeof ParallelSchema>;

export const OffloadSchema = z.object({
  optimizer: z.boolean().optional(),
  params: z.boolean().optional(),
  activations: z.boolean().optional(),
  to: z.enum(OFFLOAD_TARGETS).optional(),
});
export type OffloadConfig = z.infer<typeof OffloadSchema>;

const PlanConfigObject = z.object({
    /** A preset id (see estimate/presets.ts), `mlp`, or `hf` when `hfConfig` is given. */
    model: z.string().min(1, 'model must be named'),
    /** Shape of the `mlp` model; ignored for other models. */
    mlp: MlpShapeSchema,
    /** A parsed Hugging Face config.json, used when model is `hf`. Validated in estimate/hf.ts. */
    hfConfig: z.unknown().optional(),
    /** cnn-cifar scaled: basic blocks per stage (3: ResNet-20, 1: ResNet-8) and the first stage's width (16). */
    cnn: z.object({ blocks: posInt('cnn blocks', 64).optional(), width: posInt('cnn width', 1024).optional() }).optional(),
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
    /**
     * Mixture of experts trained by a framework that pads every expert to a capacity of
     * ⌈factor · tokens · k / experts⌉ rows (GShard, DeepSpeed-MoE, Megatron with a capacity);
     * absent: dropless routing, as transformers runs it.
     */
    capacityFactor: z
      .number({ error: 'capacity factor must be a number' })
      .min(1, 'capacity factor must be at least 1 (below 1 drops tokens; vramlab sizes the padded buffers)')
      .max(64, 'capacity factor must be at most 64')
      .optional(),
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
    /** Tensor, sequence, pipeline, context and expert parallelism (estimate/parallel.ts). */
    parallel: ParallelSchema.optional(),
    /** What is kept in host memory or on NVMe instead of the GPU (estimate/offload.ts). */
    offload: OffloadSchema.optional(),
    /** Host RAM per node, GiB: the second budget once anything lives on the host. */
    hostMemoryGiB: z
      .number({ error: 'host memory must be a number of GiB' })
      .positive('host memory must be more than 0 GiB')
      .max(LIMITS.hostMemoryGiB, `host memory must be at most ${LIMITS.hostMemoryGiB} GiB`)
      .optional(),
    /** GPUs per node sharing one host's memory (default 8, or fewer when there are fewer GPUs). */
    gpusPerNode: posInt('gpus per node', 1024).optional(),
    /** Inference: transformer layers whose weights sit on the GPU, the rest on the host (llama.cpp -ngl). */
    gpuLayers: z.number().int('gpu layers must be a whole number').min(0, 'gpu layers must be 0 or more').max(LIMITS.layers + 1, `gpu layers must be at most ${LIMITS.layers + 1}`).optional(),
    /** Inference: the KV cache in host memory (llama.cpp --no-kv-offload). */
    kvOnHost: z.boolean().optional(),
    /** Inference: how the KV cache is stored (default: the compute dtype). */
    kvDtype: z.enum(KV_DTYPES).optional(),
    /** torch.optim implementation (default foreach). */
    optimizerImpl: z.enum(OPTIMIZER_IMPLS).optional(),
    /** Optimizer states' dtype (default fp32 under mixed precision, else the parameters'). */
    optimizerDtype: z.enum(OPTIMIZER_DTYPES).optional(),
    /** Inference: logits for the last position (default) or all positions. */
    logits: z.enum(LOGITS).optional(),
});

export const PlanConfigSchema = PlanConfigObject.superRefine((c, ctx) => {
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
    refineExtras(c, ctx);
  });

/** The many-GPU, offload and precision settings: which mode each belongs to, what each needs. */
function refineExtras(c: z.infer<typeof PlanConfigObject>, ctx: z.RefinementCtx): void {
  const train = c.mode === 'train';
  const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  for (const k of ['gpuLayers', 'kvOnHost', 'kvDtype', 'logits'] as const) {
    if (train && c[k] !== undefined && c[k] !== false) issue([k], 'applies to inference only; drop it or use --mode inference');
  }
  for (const k of ['optimizerImpl', 'optimizerDtype'] as const) {
    if (!train && c[k] !== undefined) issue([k], 'applies to training only (an inference forward has no optimizer)');
  }
  const p = c.parallel;
  if (!train && p !== undefined && ((p.pp ?? 1) > 1 || (p.cp ?? 1) > 1 || p.sp === true || p.microbatches !== undefined || p.ppSchedule !== undefined)) {
    issue(['parallel', (p.pp ?? 1) > 1 ? 'pp' : (p.cp ?? 1) > 1 ? 'cp' : p.sp ? 'sp' : p.microbatches !== undefined ? 'microbatches' : 'ppSchedule'], 'pipeline, context and sequence parallelism plan training; for inference use --tp');
  }
  const o = c.offload;
  if (o !== undefined && (o.optimizer || o.params || o.activations)) {
    if (!train) issue(['offload', o.optimizer ? 'optimizer' : o.params ? 'params' : 'activations'], 'offload of optimizer states, parameters or activations is for training; for inference use --gpu-layers or --kv-on-host');
    if (c.hostMemoryGiB === undefined) issue(['hostMemoryGiB'], 'offload needs the host memory per node to check it against: add --host-memory GiB, e.g. --host-memory 512');
  }
  if (o?.to !== undefined && !(o.optimizer || o.params || o.activations)) issue(['offload', 'to'], 'says where offloaded states go; add --offload optimizer, params, both or activations');
  if (!train && (c.kvOnHost === true || c.gpuLayers !== undefined) && c.hostMemoryGiB === undefined) {
    issue(['hostMemoryGiB'], 'weights or KV cache on the host need the host memory per node to check it against: add --host-memory GiB');
  }
}

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
/** `input` checked against `schema`; the first problem thrown as a ConfigError naming its field. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.') || 'config';
  throw new ConfigError(`${field}: ${issue.message}`, field);
}

export function parsePlanConfig(input: unknown): PlanConfig {
  return parseWith(PlanConfigSchema, input);
}
