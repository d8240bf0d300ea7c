/**
 * What this project's own engine allocates for the `mlp` model, buffer by buffer. The engine
 * (src/engine/) follows this layout, and its ledger is checked against it:
 *
 * - weights: per block W1 d×hidden, b1 hidden, W2 hidden×d, b2 d, fp32. Under amp the fp32
 *   tensors are master weights and W1, W2 also have persistent 16-bit copies (packed two per
 *   u32, so a copy is ⌈n/2⌉·4 bytes);
 * - input x: batch×d in the activation storage type;
 * - forward, block l, saves: pre = x·W1 + b1 (batch×hidden), act = f(pre) (batch×hidden) and
 *   its own input (the previous block's output; block 0's input is x);
 * - the loss (mean of squares) saves the last block's output;
 * - backward starts with the loss op, which creates dOut of the last block (fp32);
 *   block l: its gradients (fp32) are created, then dPre (batch×hidden, fp32: dOut·W2ᵀ ⊙ f'(pre))
 *   and, for l > 0, dIn (batch×d, fp32); then dOut, dPre and the block's saved tensors are
 *   freed and dIn becomes the next block's dOut;
 * - the optimizer updates in place (one fused kernel over the parameter arena, no
 *   temporaries), under amp writing the 16-bit copies as it goes; the gradients are freed after it;
 * - workspace, for the whole run: the optimizer's hyper-parameters (12 f32), the loss-scale
 *   state (4 words) and the loss (1 f32).
 * Checkpointing frees pre and act after a block's forward (keeping its input) and recomputes
 * them from the kept input in backward; √n keeps the input of every ⌈√L⌉-th block only.
 */
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

export const ENGINE_WORKSPACE = { hyperBytes: 12 * 4, lossStateBytes: 16, lossBytes: 4 } as const;
export const ENGINE_WORKSPACE_BYTES = ENGINE_WORKSPACE.hyperBytes + ENGINE_WORKSPACE.lossStateBytes + ENGINE_WORKSPACE.lossBytes;
import type { PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';
import type { Unit } from './schedule.ts';
import type { MlpSpec } from './specs.ts';

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

/** What the engine runs: the mlp, and GPT-style decoders (checked further in vramlab-gpt.ts). */
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
  if (cfg.loraRank > 0 && kind !== 'transformer') throw new EstimateError(`framework vramlab: the engine runs LoRA on GPT-style decoders only; use --lora-rank 0 for the ${kind === 'cnn' ? 'CNNs' : 'mlp'}, ${fix}`);
  if (cfg.zero > 0 || cfg.gpus > 1 || (cfg.microBatch !== undefined && cfg.microBatch !== cfg.batch)) {
    throw new EstimateError(`framework vramlab: the engine runs one GPU, no gradient accumulation; ${fix}`);
  }
}

export interface EngineMlpLayout {
  units: Unit[];
  weightsBytes: number;
  masterBytes: number;
  gradBytes: number;
  optimizerBytes: number;
  inputBytes: number;
  workspaceBytes: number;
}

export function engineMlpLayout(s: MlpSpec, cfg: PlanConfig): EngineMlpLayout {
  const B = cfg.batch;
  const amp = cfg.precision !== 'fp32';
  const act = (n: number) => storageBytes(n, amp);
  const blockParams = s.d * s.hidden * 2 + s.hidden + s.d;
  const fp32Bytes = 4 * blockParams * s.layers;
  const copies = amp ? packed16Bytes(s.d * s.hidden) * 2 * s.layers : 0;
  const statesPerParam = cfg.optimizer === 'sgd' ? 0 : cfg.optimizer === 'sgd-momentum' ? 1 : 2;
  const units: Unit[] = [];
  for (let l = 0; l < s.layers; l++) {
    const input = l === 0 ? 0 : act(B * s.d); // x is counted as inputs
    units.push({
      name: `block ${l}`,
      category: 'activations',
      saved: input + 2 * act(B * s.hidden),
      selective: 0,
      checkpointInput: input,
      // Its output, created at the end of its forward (the next unit keeps it as input).
      fwdTransient: act(B * s.d),
      // dOut + dPre, and dIn except for block 0 (the input x needs no gradient).
      bwdTransient: 4 * B * ((l === 0 ? 1 : 2) * s.d + s.hidden),
      castBytes: 0,
      gradBytes: 4 * blockParams,
      recomputable: true,
      ops: {
        forward: ENGINE_OP.forwardBlock(l),
        recompute: ENGINE_OP.recomputeBlock(l),
        backward: ENGINE_OP.backwardBlock(l),
        input,
        output: act(B * s.d),
        gradOut: l === 0 ? 0 : 4 * B * s.d,
      },
    });
  }
  units.push({
    name: 'loss',
    category: 'activations',
    saved: act(B * s.d),
    selective: 0,
    checkpointInput: 0,
    fwdTransient: 0,
    // dOut of the last block, made by the loss op.
    bwdTransient: 4 * B * s.d,
    castBytes: 0,
    gradBytes: 0,
    recomputable: false,
    // The engine has no forward op for it: its loss op starts backward, reading the last output.
    ops: { forward: null, backward: ENGINE_OP.loss, input: act(B * s.d), output: 0, gradOut: 4 * B * s.d },
  });
  return {
    units,
    weightsBytes: amp ? copies : fp32Bytes,
    masterBytes: amp ? fp32Bytes : 0,
    gradBytes: fp32Bytes,
    optimizerBytes: statesPerParam * fp32Bytes,
    inputBytes: act(B * s.d),
    workspaceBytes: ENGINE_WORKSPACE_BYTES,
  };
}
