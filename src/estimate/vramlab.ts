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
 * - backward, block l: dOut (batch×d), dAct (batch×hidden, reused in place for dPre) and
 *   dIn (batch×d) are fp32; the block's gradients (fp32) are created there and kept until
 *   the optimizer step, which updates in place (one fused kernel, no temporaries).
 */
import type { PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';
import type { Unit } from './schedule.ts';
import type { MlpSpec } from './specs.ts';

/** Bytes of n values stored in 16 bits, packed two per u32. */
export const packed16Bytes = (n: number) => Math.ceil(n / 2) * 4;

export function storageBytes(n: number, sixteen: boolean): number {
  return sixteen ? packed16Bytes(n) : 4 * n;
}

export const ENGINE_OPTIMIZERS = ['sgd', 'sgd-momentum', 'adam', 'adamw'] as const;
export const ENGINE_PRECISIONS = ['fp32', 'amp-fp16', 'amp-bf16'] as const;

export function checkEngineSupports(cfg: PlanConfig): void {
  const fix = 'or use --framework pytorch for a PyTorch estimate';
  if (cfg.model !== 'mlp') throw new EstimateError(`framework vramlab: the engine runs the mlp model; use --model mlp, ${fix}`);
  if (cfg.mode !== 'train') throw new EstimateError(`framework vramlab: the engine runs training steps; use --mode train, ${fix}`);
  if (!(ENGINE_PRECISIONS as readonly string[]).includes(cfg.precision)) {
    throw new EstimateError(`framework vramlab: precision must be one of ${ENGINE_PRECISIONS.join(', ')}, ${fix}`);
  }
  if (!(ENGINE_OPTIMIZERS as readonly string[]).includes(cfg.optimizer)) {
    throw new EstimateError(`framework vramlab: optimizer must be one of ${ENGINE_OPTIMIZERS.join(', ')}, ${fix}`);
  }
  if (cfg.checkpoint === 'selective') throw new EstimateError(`framework vramlab: the mlp has no attention to recompute selectively; use --checkpoint none, full or sqrt`);
  if (cfg.loraRank > 0 || cfg.zero > 0 || cfg.gpus > 1 || (cfg.microBatch !== undefined && cfg.microBatch !== cfg.batch)) {
    throw new EstimateError(`framework vramlab: the engine runs one GPU, no LoRA, no gradient accumulation; ${fix}`);
  }
}

export interface EngineMlpLayout {
  units: Unit[];
  weightsBytes: number;
  masterBytes: number;
  gradBytes: number;
  optimizerBytes: number;
  inputBytes: number;
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
      fwdTransient: 0,
      bwdTransient: 4 * B * (2 * s.d + s.hidden),
      castBytes: 0,
      gradBytes: 4 * blockParams,
      recomputable: true,
    });
  }
  units.push({
    name: 'loss',
    category: 'activations',
    saved: act(B * s.d),
    selective: 0,
    checkpointInput: 0,
    fwdTransient: 0,
    // The scalar loss (4 B) and the gradient of the last output.
    bwdTransient: 4 + 4 * B * s.d,
    castBytes: 0,
    gradBytes: 0,
    recomputable: false,
  });
  return {
    units,
    weightsBytes: amp ? copies : fp32Bytes,
    masterBytes: amp ? fp32Bytes : 0,
    gradBytes: fp32Bytes,
    optimizerBytes: statesPerParam * fp32Bytes,
    inputBytes: act(B * s.d),
  };
}
