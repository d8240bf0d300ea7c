/**
 * Bytes per value for each storage choice a precision setting implies.
 */
import type { Precision } from '../protocol/config.ts';

export interface DtypePlan {
  /** Bytes per stored parameter of the model as loaded (the fp32 params under autocast). */
  param: number;
  /** Bytes of the values matmuls run in: activations, autocast copies. */
  compute: number;
  /** Bytes of the residual stream: fp32 under autocast (fp32 embeddings + promoting adds). */
  residual: number;
  /** Bytes per gradient value (same dtype as the trainable params). */
  grad: number;
  /** torch.autocast is on: per-op 16-bit casts of weights and of activations. */
  autocast: boolean;
  /** Frozen base weights are quantized (int8/int4): bytes per matmul weight, scales included. */
  quantizedBase: number | null;
  /** FP8 training: matmul weights cast to fp8 (and transposed) per op instead of to 16 bits. */
  fp8?: boolean;
}

/**
 * NF4 with double quantization: 4 bits + an 8-bit absmax per 64 values + an fp32 scale per
 * 256 absmax blocks = 4.127 bits (Dettmers et al. 2023, QLoRA, arXiv 2305.14314).
 */
export const NF4_BYTES = (4 + 8 / 64 + 32 / (64 * 256)) / 8;
/** LLM.int8: 1 byte per value + an fp32 scale per row (Dettmers et al. 2022), per value ~1 B. */
export const INT8_BYTES = 1;

export function dtypePlan(p: Precision, qlora: boolean): DtypePlan {
  switch (p) {
    case 'fp32':
      return { param: 4, compute: 4, residual: 4, grad: 4, autocast: false, quantizedBase: qlora ? NF4_BYTES : null };
    case 'amp-fp16':
    case 'amp-bf16':
      return { param: 4, compute: 2, residual: 4, grad: 4, autocast: true, quantizedBase: qlora ? NF4_BYTES : null };
    case 'fp16':
    case 'bf16':
      return { param: 2, compute: 2, residual: 2, grad: 2, autocast: false, quantizedBase: qlora ? NF4_BYTES : null };
    case 'int8':
      return { param: 2, compute: 2, residual: 2, grad: 2, autocast: false, quantizedBase: INT8_BYTES };
    case 'int4':
      return { param: 2, compute: 2, residual: 2, grad: 2, autocast: false, quantizedBase: NF4_BYTES };
    case 'fp8':
      // torchao float8 training: bf16 autocast around fp8 matmuls, fp32 params and states.
      return { param: 4, compute: 2, residual: 4, grad: 4, autocast: true, quantizedBase: qlora ? NF4_BYTES : null, fp8: true };
  }
}
