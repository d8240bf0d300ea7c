/**
 * A training run on the engine: what the UI, the worker and the CLI agree on. RunConfig is
 * untrusted input (URL, form, CLI flags) and is validated here; RunReport is plain data that
 * survives structured clone and JSON.
 */
import { z } from 'zod';
import { ACTIVATIONS, DEFAULT_PLAN, parseWith, LIMITS, type PlanConfig } from './config.ts';
import type { AdapterSummary } from './engine-api.ts';
import type { CategoryBytes, Plan, PlanCategory } from './plan.ts';

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
  return parseWith(RunConfigSchema, input);
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

/** A phase of the step, or 'setup' for what the ledger records before the step's first op. */
export type OpPhase = PhaseName | 'setup';

/**
 * The phase of an engine op from its ledger label (the trainers in engine/graph/ label ops
 * 'forward block 0', 'loss and head backward', 'recompute block 1', 'backward block 1',
 * 'optimizer'). The loss op starts the backward pass (it writes the first gradient); an
 * unlabelled event belongs to the phase before it.
 */
export function phaseOfOpLabel(label: string, previous: OpPhase): OpPhase {
  if (label.startsWith('forward')) return 'forward';
  if (label.startsWith('loss') || label.startsWith('backward')) return 'backward';
  if (label.startsWith('recompute')) return 'recompute';
  if (label.startsWith('optimizer')) return 'optimizer';
  return previous;
}

/**
 * The arithmetic of one training step, counted where each kernel is recorded (the engine) or
 * predicted from the configuration (estimate/vramlab-work.ts: stepWork), the same numbers.
 * FLOPs follow the algorithm each kernel implements: a matmul is 2·M·N·K (plus its epilogue),
 * attention counts its products over the causal query-key pairs, other kernels a documented
 * constant per element (estimate/vramlab-work.ts lists them). Recompute is counted as it
 * runs, so checkpointing shows up here as more work.
 */
export interface StepWork {
  /** FLOPs by the phase they run in (the mlp's loss and the GPT's loss run in backward). */
  flops: Record<PhaseName, number>;
  /** Sum of `flops`. */
  totalFlops: number;
  /** The 2·M·N·K products of the matmul kernels alone (no epilogues, no attention), all phases. */
  matmulFlops: number;
  /** Kernel dispatches (dispatchWorkgroups calls) of a step. */
  dispatches: number;
  /**
   * Compute passes of a step's kernels: consecutive kernel calls share one until a copy, a
   * clear or a phase segment's end (the profiler's empty timestamp passes not included).
   */
  computePasses: number;
  /** clearBuffer commands of a step (zeroing a reused buffer whose first writer does not overwrite it all). */
  clears: number;
  /** Copies a step records into mappable buffers to read back (its loss; the profiler's timestamps not included). */
  readbacks: number;
  /**
   * Command buffers a step submits: one per phase turn (a phase's commands go to the queue as
   * soon as the step turns to the next one), the last with the loss copy; not counting the
   * extra submission of a step whose gradients a test inspects.
   */
  submits: number;
}

export interface RunProgress {
  stage: 'allocating' | 'compiling' | 'step' | 'done';
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
    /**
     * Wall time of the warm-up before the first step: every compute pipeline the step uses,
     * created with createComputePipelineAsync, all requested at once (Trainer.warmUp), so no
     * step's time includes a shader compile.
     */
    warmupMs: number;
    /** Pipelines the warm-up created (those not already cached on the device). */
    warmupPipelines: number;
    /** Median wall time of a step after the first (the first makes its bind groups and buffers). */
    stepMs: number;
    /** Wall time of every step, in order (the first included), so a chart can show the spread. */
    stepsMs: number[];
    /**
     * Median CPU time of the steps after the first spent recording their commands (the step
     * call, which submits each phase as the next begins). With timestamp-query it waits for
     * nothing, so this is the floor a step costs whatever the GPU; in wall-clock mode it
     * includes the waits.
     */
    recordMs: number;
    /** GPU (timestamp-query) or wall time per phase, median over steps after the first. */
    phasesMs: Record<PhaseName, number>;
    source: 'timestamp-query' | 'wall-clock';
  };
  loss: number[];
  /** Steps skipped by dynamic loss scaling (non-finite gradients). */
  skippedSteps: number;
  /**
   * Live bytes by category over the last step, one point per allocation or release: which
   * tensor (`name`, its plan `category` and `tensorBytes`) was created or destroyed there.
   */
  timeline: RunTimelinePoint[];
  /** The tensors alive when the last step ended (weights, optimizer states…), with their bytes. */
  aliveAtEnd: RunTensor[];
  /** The work the engine recorded in the last step (every step records the same). */
  work: StepWork;
}

/** One tensor as the page names it: ledger name, plan category, requested bytes. */
export interface RunTensor {
  name: string;
  category: PlanCategory;
  bytes: number;
}

export interface RunTimelinePoint {
  /** Op index current at the event (-1: before the first op). */
  op: number;
  /** Label of that op, e.g. 'forward block 0'. */
  label: string;
  event: 'create' | 'destroy';
  /** The tensor created or destroyed at this point. */
  name: string;
  /** Its plan category; null for readback staging, which is outside the step's bytes. */
  category: PlanCategory | null;
  tensorBytes: number;
  /** Live bytes by category after the event. */
  bytes: CategoryBytes;
}

export const GPT_CHECKPOINTS = ['none', 'full', 'selective', 'sqrt'] as const;

/** LoRA on a decoder's block projections (engine/graph/lora.ts), the GPT's and the Llama's alike. */
const LORA_FIELDS = {
  /**
   * LoRA rank on the block projections (GPT: Wqkv, Wo, W1, W2; Llama: Wqkv, Wo, Wgu, Wd);
   * absent or 0: full fine-tuning. Under LoRA every base parameter is frozen.
   */
  loraRank: int('lora rank', 0, LIMITS.d).optional(),
  /** LoRA's alpha: the adapters' product is scaled by alpha / rank. Default 2 × rank (scale 2). */
  loraAlpha: z.number().positive('lora alpha must be more than 0').max(1 << 20, 'lora alpha must be at most 1048576').optional(),
  /** QLoRA: the frozen projections stored NF4 (4-bit, one absmax per 64 values). Needs a LoRA rank. */
  qlora: z.boolean().optional(),
};

function checkLora(c: { dModel: number; loraRank?: number | undefined; loraAlpha?: number | undefined; qlora?: boolean | undefined }, ctx: z.RefinementCtx): void {
  const r = c.loraRank ?? 0;
  if (r > c.dModel) ctx.addIssue({ code: 'custom', path: ['loraRank'], message: `lora rank must be at most d-model (${c.dModel}), the narrowest adapted projection` });
  if (c.qlora && r === 0) ctx.addIssue({ code: 'custom', path: ['qlora'], message: 'qlora needs a LoRA rank: add --lora-rank, e.g. 8' });
  if (c.loraAlpha !== undefined && r === 0) ctx.addIssue({ code: 'custom', path: ['loraAlpha'], message: 'lora alpha needs a LoRA rank: add --lora-rank, or drop --lora-alpha' });
}

/** A GPT-style decoder run (the engine's transformer): learned positions, tied LM head, no dropout. */
export const GptRunConfigSchema = z
  .object({
    model: z.literal('gpt', { error: 'a GPT run names model gpt' }),
    vocab: int('vocab', 2, 1 << 20),
    dModel: int('d-model', 1, LIMITS.d),
    heads: int('heads', 1, 4096),
    layers: int('layers', 1, LIMITS.layers),
    seq: int('seq', 1, 1 << 16),
    batch: int('batch', 1, LIMITS.batch),
    attention: z.enum(['eager', 'fused']),
    precision: z.enum(RUN_PRECISIONS),
    optimizer: z.enum(RUN_OPTIMIZERS),
    /** selective recomputes only the attention core (eager probabilities) in backward. */
    checkpoint: z.enum(GPT_CHECKPOINTS),
    steps: int('steps', 1, RUN_LIMITS.steps),
    seed: int('seed', 0, 2 ** 32 - 1),
    lr: z.number().positive('lr must be more than 0').max(10, 'lr must be at most 10').optional(),
    ...LORA_FIELDS,
  })
  .superRefine((c, ctx) => {
    checkLora(c, ctx);
    if (c.dModel % c.heads !== 0) ctx.addIssue({ code: 'custom', path: ['heads'], message: `heads must divide d-model (${c.dModel})` });
    else if (c.precision !== 'fp32' && (c.dModel / c.heads) % 2 !== 0) {
      ctx.addIssue({ code: 'custom', path: ['heads'], message: 'with 16-bit activations the head size (d-model / heads) must be even' });
    }
  });
export type GptRunConfig = z.infer<typeof GptRunConfigSchema>;

/** LoRA's scale alpha / rank of a run (alpha defaults to 2 × rank); 0 without LoRA. */
export function loraScaleOf(run: Pick<GptRunConfig, 'loraRank' | 'loraAlpha'>): number {
  const r = run.loraRank ?? 0;
  return r === 0 ? 0 : (run.loraAlpha ?? 2 * r) / r;
}

/** gpt-nano: 2 layers, d 64, 4 heads, vocab 256, seq 64 — trains in seconds on a CPU adapter. */
export const GPT_NANO_RUN: GptRunConfig = {
  model: 'gpt',
  vocab: 256,
  dModel: 64,
  heads: 4,
  layers: 2,
  seq: 64,
  batch: 4,
  attention: 'fused',
  precision: 'fp32',
  optimizer: 'adam',
  checkpoint: 'none',
  steps: 20,
  seed: 1,
};

export const DEFAULT_GPT_LR: Record<GptRunConfig['optimizer'], number> = { sgd: 0.1, 'sgd-momentum': 0.05, adam: 3e-3, adamw: 3e-3 };

export function parseGptRunConfig(input: unknown): GptRunConfig {
  return parseWith(GptRunConfigSchema, input);
}

/** The planner configuration (a gpt2-family config.json) whose framework-vramlab estimate a GPT run is checked against. */
export function planConfigOfGpt(run: GptRunConfig): PlanConfig {
  return {
    ...DEFAULT_PLAN,
    model: 'hf',
    hfConfig: {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: run.vocab,
      n_embd: run.dModel,
      n_layer: run.layers,
      n_head: run.heads,
      n_positions: run.seq,
      activation_function: 'gelu_pytorch_tanh',
      attn_pdrop: 0,
      resid_pdrop: 0,
      tie_word_embeddings: true,
    },
    mode: 'train',
    batch: run.batch,
    microBatch: undefined,
    seq: run.seq,
    precision: run.precision,
    optimizer: run.optimizer,
    checkpoint: run.checkpoint,
    attention: run.attention,
    framework: 'vramlab',
    loraRank: run.loraRank ?? 0,
    qlora: run.qlora ?? false,
    zero: 0,
    gpus: 1,
  };
}

export type GptRunReport = Omit<RunReport, 'config'> & { config: GptRunConfig };

/**
 * A Llama-style decoder run (llama, mistral, qwen2): RMSNorm, rotary positions, grouped-query
 * attention (kvHeads ≤ heads), SwiGLU MLP of width `inner`, LM head tied to the embedding or
 * not, q/k/v biases where qwen2 has them; no dropout.
 */
export const LlamaRunConfigSchema = z
  .object({
    model: z.literal('llama', { error: 'a Llama run names model llama' }),
    vocab: int('vocab', 2, 1 << 20),
    dModel: int('d-model', 1, LIMITS.d),
    heads: int('heads', 1, 4096),
    kvHeads: int('kv-heads', 1, 4096),
    /** Head size; hidden = heads·headDim need not equal dModel (Qwen2, Llama 3.2 3B do not differ; some configs set head_dim). */
    headDim: int('head-dim', 2, 4096),
    layers: int('layers', 1, LIMITS.layers),
    inner: int('inner', 1, LIMITS.hidden),
    tied: z.boolean(),
    qkvBias: z.boolean(),
    /** rope_theta: Llama 2 10000, Llama 3 500000, Qwen2 1000000. */
    ropeTheta: z.number().positive('rope-theta must be more than 0').max(1e9, 'rope-theta must be at most 1e9'),
    seq: int('seq', 1, 1 << 16),
    batch: int('batch', 1, LIMITS.batch),
    attention: z.enum(['eager', 'fused']),
    precision: z.enum(RUN_PRECISIONS),
    optimizer: z.enum(RUN_OPTIMIZERS),
    checkpoint: z.enum(GPT_CHECKPOINTS),
    steps: int('steps', 1, RUN_LIMITS.steps),
    seed: int('seed', 0, 2 ** 32 - 1),
    lr: z.number().positive('lr must be more than 0').max(10, 'lr must be at most 10').optional(),
    ...LORA_FIELDS,
  })
  .superRefine((c, ctx) => {
    checkLora(c, ctx);
    if (c.heads % c.kvHeads !== 0) ctx.addIssue({ code: 'custom', path: ['kvHeads'], message: `kv-heads must divide heads (${c.heads})` });
    else if (c.heads / c.kvHeads > c.headDim) ctx.addIssue({ code: 'custom', path: ['kvHeads'], message: `heads / kv-heads must be at most the head size (${c.headDim})` });
    if (c.headDim % 2 !== 0) ctx.addIssue({ code: 'custom', path: ['headDim'], message: 'rotary positions need an even head size' });
  });
export type LlamaRunConfig = z.infer<typeof LlamaRunConfigSchema>;

export const DEFAULT_LLAMA_LR: Record<LlamaRunConfig['optimizer'], number> = DEFAULT_GPT_LR;

export function parseLlamaRunConfig(input: unknown): LlamaRunConfig {
  return parseWith(LlamaRunConfigSchema, input);
}

/** The planner configuration (a llama or qwen2 config.json) whose framework-vramlab estimate a Llama run is checked against. */
export function planConfigOfLlama(run: LlamaRunConfig): PlanConfig {
  return {
    ...planConfigOfGpt({ ...GPT_NANO_RUN, ...run, model: 'gpt' }),
    hfConfig: {
      // qwen2 is the family with q/k/v biases.
      model_type: run.qkvBias ? 'qwen2' : 'llama',
      architectures: [run.qkvBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
      vocab_size: run.vocab,
      hidden_size: run.dModel,
      num_hidden_layers: run.layers,
      num_attention_heads: run.heads,
      num_key_value_heads: run.kvHeads,
      head_dim: run.headDim,
      intermediate_size: run.inner,
      hidden_act: 'silu',
      tie_word_embeddings: run.tied,
      rope_theta: run.ropeTheta,
    },
  };
}

export type LlamaRunReport = Omit<RunReport, 'config'> & { config: LlamaRunConfig };

/** The planner configuration of any engine run (mlp, GPT or Llama). */
export function planConfigOfRun(c: RunConfig | GptRunConfig | LlamaRunConfig): PlanConfig {
  return c.model === 'llama' ? planConfigOfLlama(c) : c.model === 'gpt' ? planConfigOfGpt(c) : planConfigOf(c);
}

/**
 * The tensors alive just after timeline point `index` of a report (largest first): the last
 * step's events undone one by one from the tensors alive at its end. Staging is left out, as
 * it is from the timeline's bytes, so the tensors' bytes add up to the point's total.
 */
export function tensorsAliveAt(report: Pick<RunReport, 'timeline' | 'aliveAtEnd'>, index: number): RunTensor[] {
  const alive = new Map(report.aliveAtEnd.map((t) => [t.name, t]));
  for (let i = report.timeline.length - 1; i > index; i--) {
    const p = report.timeline[i]!;
    if (p.category === null) continue;
    if (p.event === 'create') alive.delete(p.name);
    else alive.set(p.name, { name: p.name, category: p.category, bytes: p.tensorBytes });
  }
  return [...alive.values()].sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
}
