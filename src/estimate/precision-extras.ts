/**
 * Precision and implementation details that move real numbers: KV-cache storage formats,
 * torch.optim's step implementations and state dtype, FP8 weight copies, inference logits.
 */
import type { KvDtype, OptimizerImpl, PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';

export const PRECISION_SOURCES = {
  ggml: 'ggml block formats: block_q8_0 = fp16 scale + 32 int8 (34 B), block_q4_0 = fp16 scale + 16 B of 4-bit (18 B) per 32 values',
  fp8: 'torchao float8 training (dynamic scaling) and torchtitan docs/float8.md, docs/performance.md: Llama 3.1 8B FSDP on 8 H100s 77.0 → 76.8 GiB',
  fp8Kv: 'vLLM FP8 KV cache (e4m3, a per-tensor scale for K and for V per layer)',
  torchOptim: 'torch.optim: foreach (default on CUDA) keeps intermediates for a whole list of tensors; fused keeps none; for-loop one tensor at a time',
} as const;

/** Values per GGML block and bytes per block (fp16 scale + packed values). */
const GGML_BLOCK = { q8_0: { values: 32, bytes: 2 + 32 }, q4_0: { values: 32, bytes: 2 + 16 } } as const;

export interface KvCacheBytes {
  bytes: number;
  /** Average bytes per cached value, scales included. */
  perValue: number;
  formula: string;
}

/**
 * KV-cache bytes: 2 (K and V) · layers · kv_heads · head_dim · context · batch values, stored as
 * `dtype` (default: the compute dtype, `computeBytes` per value). GGML blocks run along a row of
 * kv_heads · head_dim values, so a row that is not a multiple of 32 pads its last block; FP8
 * adds an fp32 scale for K and one for V per layer.
 */
export function kvCacheBytes(
  s: { layers: number; kvHeads: number; headDim: number },
  context: number,
  batch: number,
  dtype: KvDtype | undefined,
  computeBytes: number,
): KvCacheBytes {
  const rows = 2 * s.layers * context * batch;
  const row = s.kvHeads * s.headDim;
  const values = rows * row;
  const shape = `2 × ${s.layers} layers × ${s.kvHeads} kv heads × ${s.headDim} × ${context} tokens × ${batch}`;
  if (dtype === 'q8_0' || dtype === 'q4_0') {
    const blk = GGML_BLOCK[dtype];
    const bytes = rows * Math.ceil(row / blk.values) * blk.bytes;
    return { bytes, perValue: bytes / values, formula: `${shape} in ${dtype} blocks of ${blk.values} values × ${blk.bytes} B` };
  }
  if (dtype === 'fp8') {
    const bytes = values + 2 * s.layers * 4;
    return { bytes, perValue: bytes / values, formula: `${shape} × 1 B (fp8 e4m3) + 2 × ${s.layers} fp32 scales` };
  }
  const b = dtype === undefined ? computeBytes : 2;
  return { bytes: values * b, perValue: b, formula: `${shape} × ${b} B${dtype ? ` (${dtype})` : ''}` };
}

/**
 * Bytes per optimizer state value: `--optimizer-dtype bf16` keeps them in 2 B; otherwise the
 * planner's default (fp32 under mixed precision, the parameters' dtype otherwise).
 */
export function optimizerStateBytes(cfg: PlanConfig, defaultBytes: number): number {
  if (cfg.optimizerDtype === undefined) return defaultBytes;
  if (cfg.optimizer === 'adam-8bit' || cfg.optimizer === 'sgd') {
    throw new EstimateError(`--optimizer-dtype sets the dtype of optimizer states; ${cfg.optimizer} ${cfg.optimizer === 'sgd' ? 'keeps none' : 'keeps its own 8-bit blocks'}: drop --optimizer-dtype`);
  }
  return cfg.optimizerDtype === 'bf16' ? 2 : 4;
}

/**
 * The optimizer step's temporaries by implementation: foreach (PyTorch's default on CUDA) runs
 * each op over the whole list of states at once, so an intermediate such as Adam's sqrt(v) +
 * eps exists for all of them (`foreachBytes`); fused computes in registers (none); the for-loop
 * holds one tensor's intermediate at a time (`largestBytes`).
 */
export function optimizerTempBytes(impl: OptimizerImpl | undefined, foreachBytes: number, largestBytes: number): number {
  switch (impl ?? 'foreach') {
    case 'foreach':
      return foreachBytes;
    case 'fused':
      return 0;
    case 'for-loop':
      return Math.min(foreachBytes, largestBytes);
  }
}

/**
 * FP8 training (torchao Float8Linear, dynamic scaling): each matmul weight is cast to fp8 for
 * forward (1 B) and, transposed, for backward (1 B), with an fp32 scale for each; these take
 * the place of autocast's 16-bit copy (2 B), so the total hardly moves. The high-precision
 * input of each linear is what is saved for backward (recast in backward), as in bf16.
 */
export const FP8_COPY_BYTES = 1 + 1;
export const FP8_SCALE_BYTES = 2 * 4;

/** FP8 inference weights: 1 B per matmul weight plus an fp32 per-tensor scale. */
export const FP8_WEIGHT_BYTES = 1;
