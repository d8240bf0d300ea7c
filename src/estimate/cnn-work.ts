/**
 * What the CNN kernels cost (src/engine/kernels/conv.ts, batchnorm.ts, relu.ts, pool.ts count
 * their calls with these functions as they record them), in the FLOP convention of
 * vramlab-work.ts: a multiply-add is two. A convolution counts every tap of its window,
 * 2·K²·Cin per output value, padded taps included (the convention of published conv FLOP
 * counts: the kernel skips them, the model does not know where they fall).
 */
import type { KernelWork } from './vramlab-work.ts';

export interface ConvShape {
  N: number;
  cin: number;
  H: number;
  W: number;
  cout: number;
  OH: number;
  OW: number;
  k: number;
}

/** FLOPs per element of the CNN's non-conv kernels, with the operations counted. */
export const CNN_ELEMENT_FLOPS = {
  /** Σx and Σ(x − mean)²: 1 + 3 per input value. */
  bnStats: 4,
  /** γ·(x − mean)·rstd + β. */
  bnNormalize: 4,
  /** Σdz, Σdz·x̂ with x̂ 2: 5 per value. */
  bnGradStats: 5,
  /** γ·rstd·(dz − dβ/M − x̂·dγ/M) with x̂ 2: 8 per value. */
  bnGradInput: 8,
  relu: 1,
  reluGrad: 1,
  /** + res. */
  residual: 1,
  /** Three comparisons per 2×2 window. */
  maxPool: 3,
  /** The window's argmax again (3) and the select, per input value. */
  maxPoolGrad: 4,
  /** One add per input value (the divide per output is left out). */
  avgPool: 1,
  /** dy/HW per input value. */
  avgPoolGrad: 1,
} as const;

const work = (flops: number, dispatches: number, matmulFlops = 0): KernelWork => ({ flops, matmulFlops, dispatches });
const convProducts = (s: ConvShape) => 2 * s.N * s.cout * s.OH * s.OW * s.cin * s.k * s.k;

export const CNN_KERNEL_WORK = {
  convForward: (s: ConvShape, bias: boolean) => work(convProducts(s) + (bias ? s.N * s.cout * s.OH * s.OW : 0), 1, convProducts(s)),
  convBackwardInput: (s: ConvShape) => work(convProducts(s), 1, convProducts(s)),
  /** dw, and db when the conv has a bias (one add per dy value): one pass, one or two dispatches. */
  convBackwardWeight: (s: ConvShape, bias: boolean) => work(convProducts(s) + (bias ? s.N * s.cout * s.OH * s.OW : 0), bias ? 2 : 1, convProducts(s)),
  /** Statistics and the normalisation (with ReLU and a residual as asked): two dispatches. */
  batchNorm: (n: number, relu: boolean, residual: boolean) =>
    work(n * (CNN_ELEMENT_FLOPS.bnStats + CNN_ELEMENT_FLOPS.bnNormalize + (relu ? CNN_ELEMENT_FLOPS.relu : 0) + (residual ? CNN_ELEMENT_FLOPS.residual : 0)), 2),
  batchNormBackward: (n: number, relu: boolean) => work(n * (CNN_ELEMENT_FLOPS.bnGradStats + CNN_ELEMENT_FLOPS.bnGradInput + (relu ? 2 * CNN_ELEMENT_FLOPS.reluGrad : 0)), 2),
  relu: (n: number) => work(CNN_ELEMENT_FLOPS.relu * n, 1),
  reluBackward: (n: number) => work(CNN_ELEMENT_FLOPS.reluGrad * n, 1),
  maxPool: (outputs: number) => work(CNN_ELEMENT_FLOPS.maxPool * outputs, 1),
  maxPoolBackward: (inputs: number) => work(CNN_ELEMENT_FLOPS.maxPoolGrad * inputs, 1),
  avgPool: (inputs: number) => work(CNN_ELEMENT_FLOPS.avgPool * inputs, 1),
  avgPoolBackward: (inputs: number) => work(CNN_ELEMENT_FLOPS.avgPoolGrad * inputs, 1),
} as const;
