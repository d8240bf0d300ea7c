import type { PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';

/**
 * Labels of the engine's ledger ops: the trainers (engine/graph/) start each op with one, and
 * the framework-vramlab estimate names the op each timeline point describes with the same.
 */
export const ENGINE_OP = {
  forwardBlock: (l: number) => `forward block ${l}`,
  recomputeBlock: (l: number) => `recompute block ${l}`,
  backwardBlock: (l: number) => `backward block ${l}`,
  /** GPT, selective recompute of block l's attention probabilities. */
  recomputeAttention: (l: number) => `recompute attention ${l}`,
  /** mlp: the loss and the last block's output gradient (the start of backward). */
  loss: 'loss',
  forwardEmbeddings: 'forward embeddings',
  forwardHead: 'forward head',
  lossAndHeadBackward: 'loss and head backward',
  backwardEmbeddings: 'backward embeddings',
  optimizer: 'optimizer',
} as const;

/**
 * Partial sums of the cross-entropy loss (engine/kernels/crossentropy.ts): its first dispatch
 * runs on up to this many workgroups, each leaving one f32 after the mean in the loss buffer.
 */
export const CROSS_ENTROPY_PARTIALS = 256;

/**
 * Every trainer's workspace, for the whole run: the optimizer's hyper-parameters (12 f32),
 * the loss-scale state (4 words) and the loss: its mean (1 f32), then CROSS_ENTROPY_PARTIALS
 * partial sums. The optimizer updates in place (one fused kernel per tensor, no temporaries)
 * and under amp then refreshes the 16-bit copies.
 */
export const ENGINE_WORKSPACE = { hyperBytes: 12 * 4, lossStateBytes: 16, lossBytes: 4 * (1 + CROSS_ENTROPY_PARTIALS) } as const;
export const ENGINE_WORKSPACE_BYTES = ENGINE_WORKSPACE.hyperBytes + ENGINE_WORKSPACE.lossStateBytes + ENGINE_WORKSPACE.lossBytes;

/** Bytes of n values stored in 16 bits, packed two per u32. */
export const packed16Bytes = (n: number) => Math.ceil(n / 2) * 4;

/**
 * NF4 (QLoRA's 4-bit NormalFloat, engine/kernels/nf4.ts): 8 codes per u32 word and one f32
 * absmax per 64 consecutive values, as bitsandbytes' blocksize 64 (no double quantisation).
 */
export const NF4_BLOCK = 64;
export const nf4CodeBytes = (n: number) => Math.ceil(n / 8) * 4;
export const nf4AbsmaxBytes = (n: number) => Math.ceil(n / NF4_BLOCK) * 4;

export function storageBytes(n: number, sixteen: boolean): number {
  return sixteen ? packed16Bytes(n) : 4 * n;
}

export const ENGINE_OPTIMIZERS = ['sgd', 'sgd-momentum', 'adam', 'adamw'] as const;
export const ENGINE_PRECISIONS = ['fp32', 'amp-fp16', 'amp-bf16'] as const;

/** What the engine runs: the mlp, GPT-style and Llama-style decoders (checked further in vramlab-gpt.ts, vramlab-llama.ts) and the CNNs. */
export function checkEngineSupports(cfg: PlanConfig, kind: string): void {
  const fix = 'or use --framework pytorch for a PyTorch estimate';
  if (kind !== 'mlp' && kind !== 'transformer' && kind !== 'cnn') throw new EstimateError(`framework vramlab: the engine runs the mlp model, GPT-style and Llama-style decoders (e.g. --model gpt-nano), and the CNNs cnn-mnist and cnn-cifar; ${fix}`);
  if (cfg.mode !== 'train') throw new EstimateError(`framework vramlab: the engine runs training steps; use --mode train, ${fix}`);
  if (!(ENGINE_PRECISIONS as readonly string[]).includes(cfg.precision)) {
    throw new EstimateError(`framework vramlab: precision must be one of ${ENGINE_PRECISIONS.join(', ')}, ${fix}`);
  }
  if (!(ENGINE_OPTIMIZERS as readonly string[]).includes(cfg.optimizer)) {
    throw new EstimateError(`framework vramlab: optimizer must be one of ${ENGINE_OPTIMIZERS.join(', ')}, ${fix}`);
  }
  if (cfg.checkpoint === 'selective' && (kind === 'mlp' || kind === 'cnn')) throw new EstimateError(`framework vramlab: the ${kind === 'cnn' ? 'CNNs have' : 'mlp has'} no attention to recompute selectively; use --checkpoint none, full or sqrt`);
  if (cfg.loraRank > 0 && kind !== 'transformer') throw new EstimateError(`framework vramlab: the engine runs LoRA on its decoders (GPT- and Llama-style) only; use --lora-rank 0 for the ${kind === 'cnn' ? 'CNNs' : 'mlp'}, ${fix}`);
  if (cfg.zero > 0 || cfg.gpus > 1 || (cfg.microBatch !== undefined && cfg.microBatch !== cfg.batch)) {
    throw new EstimateError(`framework vramlab: the engine runs one GPU, no gradient accumulation; ${fix}`);
  }
}
