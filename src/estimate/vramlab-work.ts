/**
 * The arithmetic of the engine's training step: what each kernel costs (the engine's kernel
 * modules count their calls with these functions as they record them) and `stepWork`, which
 * walks the same step from the configuration alone, so a page can draw the compute axis of a
 * lesson before anything runs. GPU tests check that the two agree exactly.
 *
 * What counts as a FLOP: the arithmetic of the algorithm a kernel implements, the convention
 * of model-FLOP counts (PaLM, Chowdhery et al. 2022, appendix B): a multiply and an add are
 * two, exp, tanh, sqrt and a division one each. A matmul is 2·M·N·K exactly. Attention counts
 * its products over the causal query-key pairs, b·heads·s(s+1)/2, because the kernels compute
 * only those (keys after the query are skipped, not masked after the fact); a kernel that
 * recomputes an intermediate for its own convenience (eager_probs computes each score twice,
 * backward_k recomputes dP) counts it once, while recompute that belongs to the method
 * (FlashAttention's backward rebuilding P from the logsumexp, checkpointing) counts every
 * time it runs. Per-element constants are listed in ELEMENT_FLOPS with the operations behind
 * them. Terms of order rows·d inside attention (scaling dQ, dK; the fused D = rowsum(dO ⊙ O))
 * are left out beside the s²·d products.
 */
import { isCnnRun, planConfigOfCnn, type CnnRunConfig } from '../protocol/cnn.ts';
import type { GptRunConfig, LlamaRunConfig, PhaseName, RunConfig, StepWork } from '../protocol/run.ts';
import { PHASE_NAMES } from '../protocol/run.ts';
import { CNN_IMAGES, cnnGraph, cnnProgram, cnnSpecOf, type CnnNode } from './cnn.ts';
import { CNN_KERNEL_WORK, type ConvShape } from './cnn-work.ts';

/** How the engine launches its optimizer phase (engine/graph/trainer.ts OPTIMIZER_LAUNCHES). */
export type OptimizerLaunch = 'fused' | 'per-tensor';
import { checkpointPlan } from './schedule.ts';
import type { ModelDescription, ParamDesc } from './describe.ts';
import { gptDescriptionOfRun } from './vramlab-gpt.ts';
import { llamaDescription } from './vramlab-llama.ts';
import { mlpDescriptionOfRun } from './vramlab-mlp.ts';

/** FLOPs per element of the non-matmul kernels and epilogues, with the operations counted. */
export const ELEMENT_FLOPS = {
  /** + bias[n] in a matmul's epilogue. */
  bias: 1,
  /** max(x, 0). */
  relu: 1,
  /** dy · [x > 0]. */
  reluGrad: 1,
  /** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): x³ 2, ·c 1, + 1, ·√(2/π) 1, tanh 1, 1 + 1, ·x 1, ·0.5 1. */
  gelu: 9,
  /** dy · (0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3c·x²)): t as in gelu 6, the rest 12, · dy 1. */
  geluGrad: 19,
  /** Causal softmax of one score, forward: scale, max, subtract, exp, sum, divide. */
  softmax: 6,
  /** Eager backward per pair: D = Σ P·dP (2), dS = P·(dP − D) (2). */
  softmaxGradEager: 4,
  /** Fused backward per pair: P = exp(scale·score − lse) (3), dS = P·(dP − D) (2). */
  softmaxGradFused: 5,
  /** LayerNorm forward: mean 1, variance (subtract, square, add) 3, (x − mean)·rstd·γ + β 4. */
  layerNorm: 8,
  /** LayerNorm backward: g = dy·γ 1, x̂ 2, Σg and Σg·x̂ 3, dx 4; dγ = Σ dy·x̂ (x̂ again 2, 2), dβ = Σ dy 1. */
  layerNormGrad: 15,
  /** LayerNorm backward of the input alone (frozen γ, β): layerNormGrad without dγ and dβ. */
  layerNormInputGrad: 10,
  /** An NF4 weight value: code · absmax. */
  dequantize: 1,
  /** s·x. */
  scale: 1,
  /** Residual add a + b. */
  add: 1,
  /** into += x. */
  accumulate: 1,
  /** Column sum: one add per input element. */
  columnSum: 1,
  /** Mean of squares: square and add per value (loss), 2·y·scale/N per value (gradient). */
  mseLoss: 3,
  /** Cross-entropy per logit: max, exp(x − max), sum (loss); exp(x − max)·(1/Σ) − onehot, · scale/rows (gradient). */
  crossEntropy: 8,
  /** RMSNorm forward: square and add 2, x·rstd·γ 2. */
  rmsNorm: 4,
  /** RMSNorm backward: g = dy·γ 1, x̂ 1, Σ g·x̂ 2, dx 3; dγ = Σ dy·x̂ (x̂ again 1, 2). */
  rmsNormGrad: 10,
  /** RMSNorm backward of the input alone (a frozen γ): rmsNormGrad without dγ. */
  rmsNormInputGrad: 7,
  /** Rotary embedding per rotated value: θ = pos·base^(−2i/d) (pow 1, · 1), cos, sin, x·cos ± x'·sin 3. */
  rope: 7,
  /** SwiGLU per output: silu(g) = g/(1 + exp(−g)) 4 (neg, exp, +1, divide), · u 1. */
  swiglu: 5,
  /** SwiGLU backward per output: σ 3, silu 1, dU = dy·silu 1, dG = dy·u·σ·(1 + g·(1 − σ)) 5. */
  swigluGrad: 10,
  /** Token + position embedding: one add per output value. */
  embedding: 1,
  /** Embedding backward: one add per dOut value into the token table and one into the positions. */
  embeddingGrad: 2,
  /** A conversion between storages (rounding to f16/bf16 or widening), one per value. */
  cast: 1,
  /** The finiteness test of a gradient value (fp16 loss scaling). */
  checkFinite: 1,
  /** sgd: unscale 1, + wd·p 2, p − lr·g 2. */
  sgd: 5,
  /** sgd-momentum: sgd's 5 and buf = μ·buf + g 2. */
  'sgd-momentum': 7,
  /** adam: unscale 1, L2 2, m 4, v 5, denominator (two sqrt, divide, + eps) 4, update 4. */
  adam: 20,
  /** adamw: as adam with the decoupled decay p·(1 − lr·wd) 3 instead of L2 2. */
  adamw: 21,
} as const;

/** What one recorded kernel call costs: FLOPs, of which matmul products, and its dispatches. */
export interface KernelWork {
  flops: number;
  matmulFlops: number;
  dispatches: number;
}

type Activation = RunConfig['activation'];
export type MatmulEpilogue = { kind: 'activation' | 'activation-grad'; fn: Activation } | undefined;

/** Query-key pairs a causal attention computes: b·heads·s(s+1)/2. */
export function causalPairs(B: number, heads: number, s: number): number {
  return (B * heads * s * (s + 1)) / 2;
}

const work = (flops: number, dispatches: number, matmulFlops = 0): KernelWork => ({ flops, matmulFlops, dispatches });

/**
 * Cost of each kernel the engine records, one function per record call of src/engine/kernels/
 * (their dispatch counts as those modules record them; the GPU tests compare).
 */
export const KERNEL_WORK = {
  matmul(M: number, N: number, K: number, bias: boolean, epilogue: MatmulEpilogue): KernelWork {
    const product = 2 * M * N * K;
    let perElement = bias ? ELEMENT_FLOPS.bias : 0;
    if (epilogue) perElement += ELEMENT_FLOPS[epilogue.kind === 'activation' ? epilogue.fn : epilogue.fn === 'relu' ? 'reluGrad' : 'geluGrad'];
    return work(product + perElement * M * N, 1, product);
  },
  /** QKᵀ and P·V (2 · 2·headDim per pair) and the softmax; eager writes P (2 dispatches), fused does not (1). */
  attention(B: number, s: number, heads: number, headDim: number, fused: boolean): KernelWork {
    return work(causalPairs(B, heads, s) * (2 * 2 * headDim + ELEMENT_FLOPS.softmax), fused ? 1 : 2);
  },
  /** dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO per pair; fused also rebuilds the scores QKᵀ. 3 dispatches. */
  attentionBackward(B: number, s: number, heads: number, headDim: number, fused: boolean): KernelWork {
    const products = fused ? 5 : 4;
    const softmax = fused ? ELEMENT_FLOPS.softmaxGradFused : ELEMENT_FLOPS.softmaxGradEager;
    return work(causalPairs(B, heads, s) * (products * 2 * headDim + softmax), 3);
  },
  /**
   * A matmul whose weight is NF4 (kernels/nf4.ts): 2·M·N·K, each weight value dequantised
   * (code · absmax) counted once, and the bias. One dispatch.
   */
  nf4Matmul(M: number, N: number, K: number, bias: boolean): KernelWork {
    const product = 2 * M * N * K;
    return work(product + ELEMENT_FLOPS.dequantize * K * N + (bias ? ELEMENT_FLOPS.bias * M * N : 0), 1, product);
  },
  /** LoRA's s·(x·A) in place (kernels/lora.ts). */
  loraScale: (n: number) => work(ELEMENT_FLOPS.scale * n, 1),
  /** LoRA's y += t, and the activation when the base's epilogue would have applied it. */
  loraAdd: (n: number, fn: Activation | undefined) => work((ELEMENT_FLOPS.add + (fn ? ELEMENT_FLOPS[fn] : 0)) * n, 1),
  /** g ⊙ fn'(pre) in place. */
  loraActivationGrad: (n: number, fn: Activation) => work(ELEMENT_FLOPS[fn === 'relu' ? 'reluGrad' : 'geluGrad'] * n, 1),
  layerNorm: (rows: number, cols: number) => work(ELEMENT_FLOPS.layerNorm * rows * cols, 2),
  /** Without paramGrads (a frozen LayerNorm under LoRA) only the input's gradient: one dispatch. */
  layerNormBackward: (rows: number, cols: number, paramGrads = true) =>
    paramGrads ? work(ELEMENT_FLOPS.layerNormGrad * rows * cols, 2) : work(ELEMENT_FLOPS.layerNormInputGrad * rows * cols, 1),
  add: (n: number) => work(ELEMENT_FLOPS.add * n, 1),
  accumulate: (n: number) => work(ELEMENT_FLOPS.accumulate * n, 1),
  columnSum: (rows: number, cols: number) => work(ELEMENT_FLOPS.columnSum * rows * cols, 1),
  mseLoss: (n: number) => work(ELEMENT_FLOPS.mseLoss * n, 2),
  crossEntropy: (rows: number, vocab: number) => work(ELEMENT_FLOPS.crossEntropy * rows * vocab, 2),
  embedding: (rows: number, dim: number) => work(ELEMENT_FLOPS.embedding * rows * dim, 1),
  /** Two dispatches (token table, positions; one without positions); accumulating into the token table adds its vocab·dim adds. */
  embeddingBackward: (rows: number, dim: number, vocab: number, accumulate: boolean, positions = true) =>
    work((positions ? ELEMENT_FLOPS.embeddingGrad : 1) * rows * dim + (accumulate ? vocab * dim : 0), positions ? 2 : 1),
  rmsNorm: (rows: number, cols: number) => work(ELEMENT_FLOPS.rmsNorm * rows * cols, 2),
  /** Without paramGrads (a frozen gain under LoRA) only the input's gradient: one dispatch. */
  rmsNormBackward: (rows: number, cols: number, paramGrads = true) =>
    paramGrads ? work(ELEMENT_FLOPS.rmsNormGrad * rows * cols, 2) : work(ELEMENT_FLOPS.rmsNormInputGrad * rows * cols, 1),
  /** `rotated` values rotated (q and k); the copied ones (v) are free. */
  rope: (rotated: number) => work(ELEMENT_FLOPS.rope * rotated, 1),
  swiglu: (n: number) => work(ELEMENT_FLOPS.swiglu * n, 1),
  swigluBackward: (n: number) => work(ELEMENT_FLOPS.swigluGrad * n, 1),
  cast: (n: number) => work(ELEMENT_FLOPS.cast * n, 1),
  /** The update of n values; `halfValues` of them also written as their 16-bit copy in the same dispatch (a cast each). */
  optimizer: (kind: RunConfig['optimizer'], n: number, halfValues = 0) => work(ELEMENT_FLOPS[kind] * n + ELEMENT_FLOPS.cast * halfValues, 1),
  checkFinite: (n: number) => work(ELEMENT_FLOPS.checkFinite * n, 1),
  /** One invocation updating four scalars: no per-element work. */
  updateLossScale: () => work(0, 1),
} as const;

/**
 * Adds kernel calls up by phase. Setting `phase` starts a segment, as each rec.phase() of the
 * trainers does; the kernel calls of a segment share one compute pass (the step's passes are
 * left open from call to call and ended at each segment's boundary: engine/work.ts). Each turn
 * to another phase is a submission of the phase before (engine/profiler.ts), and the last
 * phase is submitted with the loss copy when the step ends.
 */
class Tally {
  private phase_: PhaseName = 'forward';
  private open = false;
  private turns: PhaseName | null = null;
  private submits = 0;

  get phase(): PhaseName {
    return this.phase_;
  }

  set phase(p: PhaseName) {
    if (p !== this.turns) this.submits += 1;
    this.turns = p;
    this.phase_ = p;
    this.open = false;
  }

  private readonly flops: Record<PhaseName, number> = { forward: 0, backward: 0, recompute: 0, optimizer: 0 };
  private matmulFlops = 0;
  private dispatches = 0;
  private passes = 0;

  add(k: KernelWork): void {
    // A first segment begun without setting `phase` (it starts as 'forward').
    if (this.turns === null) this.phase = this.phase_;
    this.flops[this.phase] += k.flops;
    this.matmulFlops += k.matmulFlops;
    this.dispatches += k.dispatches;
    if (!this.open) this.passes += 1;
    this.open = true;
  }

  result(): StepWork {
    return {
      flops: { ...this.flops },
      totalFlops: PHASE_NAMES.reduce((a, p) => a + this.flops[p], 0),
      matmulFlops: this.matmulFlops,
      dispatches: this.dispatches,
      computePasses: this.passes,
      // Every tensor a step creates is written whole by its first kernel, so a reused buffer is never zeroed.
      clears: 0,
      // The loss, copied for the host at the end of the step (engine/graph/trainer.ts).
      readbacks: 1,
      submits: this.submits,
    };
  }
}

/**
 * The optimizer phase of the trainers (engine/graph/trainer.ts finishStep). Fused (the
 * default): one update over every trainable parameter (the arena) that also writes the 16-bit
 * copies under amp, and under fp16 one finiteness check over every gradient first and the
 * loss scale's update after. Per tensor: a check per gradient, an update per tensor, a cast
 * per 16-bit copy, the scale's update. The FLOPs are the same: the arena's padding is not counted.
 */
function optimizerPhase(t: Tally, cfg: Pick<RunConfig, 'precision' | 'optimizer'>, params: { n: number; matmul: boolean }[], launch: OptimizerLaunch): void {
  t.phase = 'optimizer';
  const fp16 = cfg.precision === 'amp-fp16';
  const amp = cfg.precision !== 'fp32';
  if (launch === 'fused') {
    const values = params.reduce((a, p) => a + p.n, 0);
    const halfValues = amp ? params.reduce((a, p) => a + (p.matmul ? p.n : 0), 0) : 0;
    if (fp16) t.add(KERNEL_WORK.checkFinite(values));
    t.add(KERNEL_WORK.optimizer(cfg.optimizer, values, halfValues));
  } else {
    if (fp16) for (const p of params) t.add(KERNEL_WORK.checkFinite(p.n));
    for (const p of params) t.add(KERNEL_WORK.optimizer(cfg.optimizer, p.n));
    if (amp) for (const p of params) if (p.matmul) t.add(KERNEL_WORK.cast(p.n));
  }
  if (fp16) t.add(KERNEL_WORK.updateLossScale());
}

/** The trained parameters of a description in the order the trainers create their gradients: units from the last. */
function gradsInOrder(desc: ModelDescription): ParamDesc[] {
  return [...desc.units].reverse().flatMap((u) => u.grads);
}

/** The mlp's step (engine/graph/mlp.ts), kernel by kernel; its parameters from the model description. */
function mlpWork(cfg: RunConfig, launch: OptimizerLaunch): StepWork {
  const { batch: B, d, hidden: H, layers: L, activation: fn } = cfg;
  const { dropped, segmentOf } = checkpointPlan(cfg.checkpoint, L);
  const t = new Tally();
  const fc1 = () => t.add(KERNEL_WORK.matmul(B, H, d, true, { kind: 'activation', fn }));
  const fc2 = () => t.add(KERNEL_WORK.matmul(B, d, H, true, undefined));
  t.phase = 'forward';
  for (let l = 0; l < L; l++) {
    fc1();
    fc2();
  }
  t.phase = 'backward';
  t.add(KERNEL_WORK.mseLoss(B * d));
  const restored = new Set<number>();
  for (let l = L - 1; l >= 0; l--) {
    if (dropped[l] && !restored.has(l)) {
      t.phase = 'recompute';
      const seg = segmentOf[l]!;
      for (const j of seg) {
        fc1();
        if (j !== seg[seg.length - 1]) fc2();
        restored.add(j);
      }
    }
    t.phase = 'backward';
    t.add(KERNEL_WORK.matmul(H, d, B, false, undefined)); // dW2
    t.add(KERNEL_WORK.columnSum(B, d)); // db2
    t.add(KERNEL_WORK.matmul(B, H, d, false, { kind: 'activation-grad', fn })); // dPre
    t.add(KERNEL_WORK.matmul(d, H, B, false, undefined)); // dW1
    t.add(KERNEL_WORK.columnSum(B, H)); // db1
    if (l > 0) t.add(KERNEL_WORK.matmul(B, d, H, false, undefined)); // dIn
  }
  optimizerPhase(t, cfg, gradsInOrder(mlpDescriptionOfRun(cfg)), launch);
  return t.result();
}

/** The GPT's step (engine/graph/gpt.ts), kernel by kernel; its parameters from the model description. */
function gptWork(cfg: GptRunConfig, launch: OptimizerLaunch): StepWork {
  const { vocab: V, dModel: d, layers: L, heads, batch: B, seq: S } = cfg;
  const rows = B * S;
  const I = 4 * d;
  const headDim = d / heads;
  const fused = cfg.attention === 'fused';
  const selective = cfg.checkpoint === 'selective' && !fused;
  const { dropped, segmentOf } = checkpointPlan(cfg.checkpoint, L);
  const t = new Tally();
  const mm = (M: number, N: number, K: number, bias = false, epilogue: MatmulEpilogue = undefined) => t.add(KERNEL_WORK.matmul(M, N, K, bias, epilogue));
  const r = cfg.loraRank ?? 0;
  if (r > 0) return gptLoraWork(cfg, launch, t, mm);
  const blockForward = (output: boolean) => {
    t.add(KERNEL_WORK.layerNorm(rows, d));
    mm(rows, 3 * d, d, true); // qkv
    t.add(KERNEL_WORK.attention(B, S, heads, headDim, fused));
    mm(rows, d, d, true); // proj
    t.add(KERNEL_WORK.add(rows * d));
    t.add(KERNEL_WORK.layerNorm(rows, d));
    mm(rows, I, d, true, { kind: 'activation', fn: 'gelu' }); // fc1
    if (!output) return;
    mm(rows, d, I, true); // fc2
    t.add(KERNEL_WORK.add(rows * d));
  };

  t.phase = 'forward';
  t.add(KERNEL_WORK.embedding(rows, d));
  for (let l = 0; l < L; l++) blockForward(true);
  t.add(KERNEL_WORK.layerNorm(rows, d));
  mm(rows, V, d); // lm_head

  t.phase = 'backward';
  t.add(KERNEL_WORK.crossEntropy(rows, V));
  mm(V, d, rows); // lm_head.dW
  mm(rows, d, V); // lm_head.dX
  t.add(KERNEL_WORK.layerNormBackward(rows, d));

  const restored = new Set<number>();
  for (let l = L - 1; l >= 0; l--) {
    if (dropped[l] && !restored.has(l)) {
      t.phase = 'recompute';
      const seg = segmentOf[l]!;
      for (const j of seg) {
        blockForward(j !== seg[seg.length - 1]);
        restored.add(j);
      }
    }
    if (selective) {
      t.phase = 'recompute';
      t.add(KERNEL_WORK.attention(B, S, heads, headDim, false));
    }
    t.phase = 'backward';
    mm(rows, I, d, false, { kind: 'activation-grad', fn: 'gelu' }); // dPre
    mm(I, d, rows); // dW2
    t.add(KERNEL_WORK.columnSum(rows, d)); // db2
    mm(d, I, rows); // dW1
    t.add(KERNEL_WORK.columnSum(rows, I)); // db1
    mm(rows, d, I); // dY2
    t.add(KERNEL_WORK.layerNormBackward(rows, d));
    t.add(KERNEL_WORK.accumulate(rows * d));
    mm(rows, d, d); // dOut
    mm(d, d, rows); // dWo
    t.add(KERNEL_WORK.columnSum(rows, d)); // dbo
    t.add(KERNEL_WORK.attentionBackward(B, S, heads, headDim, fused));
    mm(d, 3 * d, rows); // dWqkv
    t.add(KERNEL_WORK.columnSum(rows, 3 * d)); // dbqkv
    mm(rows, d, 3 * d); // dY1
    t.add(KERNEL_WORK.layerNormBackward(rows, d));
    t.add(KERNEL_WORK.accumulate(rows * d));
  }
  t.phase = 'backward'; // the embeddings' backward: a segment of its own
  t.add(KERNEL_WORK.embeddingBackward(rows, d, V, true));

  optimizerPhase(t, cfg, gradsInOrder(gptDescriptionOfRun(cfg)), launch);
  return t.result();
}

/** The Llama's step (engine/graph/llama.ts), kernel by kernel; its parameters from the model description. */
function llamaWork(cfg: LlamaRunConfig, launch: OptimizerLaunch): StepWork {
  const { vocab: V, dModel: d, layers: L, heads, kvHeads, headDim, inner: I, batch: B, seq: S } = cfg;
  const rows = B * S;
  const W = (heads + 2 * kvHeads) * headDim;
  const Hq = heads * headDim;
  const fused = cfg.attention === 'fused';
  const selective = cfg.checkpoint === 'selective' && !fused;
  const { dropped, segmentOf } = checkpointPlan(cfg.checkpoint, L);
  const t = new Tally();
  const mm = (M: number, N: number, K: number, bias = false) => t.add(KERNEL_WORK.matmul(M, N, K, bias, undefined));
  const r = cfg.loraRank ?? 0;
  const lora = r > 0;
  // LoRA (graph/lora.ts): the frozen base's product, dense or NF4 dequantised in the kernel.
  const base = (M: number, N: number, K: number, bias: boolean) => (cfg.qlora ? t.add(KERNEL_WORK.nf4Matmul(M, N, K, bias)) : mm(M, N, K, bias));
  const xa = (inF: number) => {
    mm(rows, r, inF);
    t.add(KERNEL_WORK.loraScale(rows * r));
  };
  // A projection's forward: x·W (+ b); under LoRA s·(x·A), the base's product, s·(x·A)·B and its add.
  const proj = (inF: number, outF: number, bias = false) => {
    if (!lora) return mm(rows, outF, inF, bias);
    xa(inF);
    base(rows, outF, inF, bias);
    mm(rows, outF, r);
    t.add(KERNEL_WORK.loraAdd(rows * outF, undefined));
  };
  // A projection's backward: dW, the bias's column sum, dX; under LoRA dB, d(x·A), dA, the base's dX and the adapter's part.
  const projBack = (inF: number, outF: number, bias = false) => {
    if (lora) {
      mm(r, outF, rows);
      mm(rows, r, outF);
      t.add(KERNEL_WORK.loraScale(rows * r));
      mm(inF, r, rows);
      base(rows, inF, outF, false);
      mm(rows, inF, r);
      t.add(KERNEL_WORK.accumulate(rows * inF));
      return;
    }
    mm(inF, outF, rows);
    if (bias) t.add(KERNEL_WORK.columnSum(rows, outF));
    mm(rows, inF, outF);
  };
  const blockForward = (output: boolean) => {
    t.add(KERNEL_WORK.rmsNorm(rows, d));
    proj(d, W, cfg.qkvBias);
    t.add(KERNEL_WORK.rope(rows * (heads + kvHeads) * headDim));
    t.add(KERNEL_WORK.attention(B, S, heads, headDim, fused));
    proj(Hq, d); // o
    t.add(KERNEL_WORK.add(rows * d));
    t.add(KERNEL_WORK.rmsNorm(rows, d));
    proj(d, 2 * I); // gate, up
    t.add(KERNEL_WORK.swiglu(rows * I));
    if (!output) {
      // The last block of a recomputed segment: LoRA's down projection still keeps s·(x·A).
      if (lora) xa(I);
      return;
    }
    proj(I, d); // down
    t.add(KERNEL_WORK.add(rows * d));
  };

  t.phase = 'forward';
  t.add(KERNEL_WORK.embedding(rows, d));
  for (let l = 0; l < L; l++) blockForward(true);
  t.add(KERNEL_WORK.rmsNorm(rows, d));
  mm(rows, V, d); // lm_head

  t.phase = 'backward';
  t.add(KERNEL_WORK.crossEntropy(rows, V));
  if (lora) mm(rows, d, V); // frozen head: dX only
  else if (cfg.tied) {
    mm(V, d, rows);
    mm(rows, d, V);
  } else {
    mm(d, V, rows);
    mm(rows, d, V);
  }
  t.add(KERNEL_WORK.rmsNormBackward(rows, d, !lora));
  const restored = new Set<number>();
  for (let l = L - 1; l >= 0; l--) {
    if (dropped[l] && !restored.has(l)) {
      t.phase = 'recompute';
      const seg = segmentOf[l]!;
      for (const j of seg) {
        blockForward(j !== seg[seg.length - 1]);
        restored.add(j);
      }
    }
    if (selective) {
      t.phase = 'recompute';
      t.add(KERNEL_WORK.attention(B, S, heads, headDim, false));
    }
    t.phase = 'backward';
    projBack(I, d); // down
    t.add(KERNEL_WORK.swigluBackward(rows * I));
    projBack(d, 2 * I); // gate, up
    t.add(KERNEL_WORK.rmsNormBackward(rows, d, !lora));
    t.add(KERNEL_WORK.accumulate(rows * d));
    projBack(Hq, d); // o
    t.add(KERNEL_WORK.attentionBackward(B, S, heads, headDim, fused));
    t.add(KERNEL_WORK.rope(rows * (heads + kvHeads) * headDim));
    projBack(d, W, cfg.qkvBias);
    t.add(KERNEL_WORK.rmsNormBackward(rows, d, !lora));
    t.add(KERNEL_WORK.accumulate(rows * d));
  }
  t.phase = 'backward'; // the embeddings' backward: a segment of its own
  if (!lora) t.add(KERNEL_WORK.embeddingBackward(rows, d, V, cfg.tied, false));

  // Gradients in the order the trainer creates them: the head's, each block's from the last, the untied embedding's (under LoRA the adapters').
  const desc = llamaDescription(
    { vocab: V, d, layers: L, heads, kvHeads, headDim, inner: I, tied: cfg.tied, qkvBias: cfg.qkvBias },
    { batch: B, seq: S, amp: cfg.precision !== 'fp32', attention: cfg.attention, loraRank: r, qlora: cfg.qlora ?? false },
  );
  optimizerPhase(t, cfg, gradsInOrder(desc), launch);
  return t.result();
}

/**
 * The GPT's step under LoRA (engine/graph/gpt.ts with graph/lora.ts): per projection the
 * adapter's products x·A, s·(x·A)·B, their scale and add, the frozen base's product (dense, or
 * NF4 dequantised in the kernel); in backward dB, d(x·A), dA, the base's dX and the adapter's
 * part of it; no weight, bias, LayerNorm or embedding gradients.
 */
function gptLoraWork(cfg: GptRunConfig, launch: OptimizerLaunch, t: Tally, mm: (M: number, N: number, K: number, bias?: boolean, epilogue?: MatmulEpilogue) => void): StepWork {
  const { vocab: V, dModel: d, layers: L, heads, batch: B, seq: S } = cfg;
  const rows = B * S;
  const I = 4 * d;
  const r = cfg.loraRank!;
  const headDim = d / heads;
  const fused = cfg.attention === 'fused';
  const selective = cfg.checkpoint === 'selective' && !fused;
  const { dropped, segmentOf } = checkpointPlan(cfg.checkpoint, L);
  const base = (M: number, N: number, K: number, bias: boolean) => (cfg.qlora ? t.add(KERNEL_WORK.nf4Matmul(M, N, K, bias)) : mm(M, N, K, bias));
  const xa = (K: number) => {
    mm(rows, r, K);
    t.add(KERNEL_WORK.loraScale(rows * r));
  };
  const forward = (K: number, N: number, fn?: 'gelu') => {
    xa(K);
    base(rows, N, K, true);
    mm(rows, N, r);
    t.add(KERNEL_WORK.loraAdd(rows * N, fn));
  };
  const backward = (K: number, N: number) => {
    mm(r, N, rows); // dB
    mm(rows, r, N); // d(x·A)
    t.add(KERNEL_WORK.loraScale(rows * r));
    mm(K, r, rows); // dA
    base(rows, K, N, false); // dY·Wᵀ
    mm(rows, K, r); // G·Aᵀ
    t.add(KERNEL_WORK.accumulate(rows * K));
  };
  const blockForward = (output: boolean) => {
    t.add(KERNEL_WORK.layerNorm(rows, d));
    forward(d, 3 * d);
    t.add(KERNEL_WORK.attention(B, S, heads, headDim, fused));
    forward(d, d);
    t.add(KERNEL_WORK.add(rows * d));
    t.add(KERNEL_WORK.layerNorm(rows, d));
    forward(d, I, 'gelu');
    if (!output) return xa(I);
    forward(I, d);
    t.add(KERNEL_WORK.add(rows * d));
  };

  t.phase = 'forward';
  t.add(KERNEL_WORK.embedding(rows, d));
  for (let l = 0; l < L; l++) blockForward(true);
  t.add(KERNEL_WORK.layerNorm(rows, d));
  mm(rows, V, d); // lm_head

  t.phase = 'backward';
  t.add(KERNEL_WORK.crossEntropy(rows, V));
  mm(rows, d, V); // lm_head.dX
  t.add(KERNEL_WORK.layerNormBackward(rows, d, false));
  const restored = new Set<number>();
  for (let l = L - 1; l >= 0; l--) {
    if (dropped[l] && !restored.has(l)) {
      t.phase = 'recompute';
      const seg = segmentOf[l]!;
      for (const j of seg) {
        blockForward(j !== seg[seg.length - 1]);
        restored.add(j);
      }
    }
    if (selective) {
      t.phase = 'recompute';
      t.add(KERNEL_WORK.attention(B, S, heads, headDim, false));
    }
    t.phase = 'backward';
    backward(I, d); // fc2
    t.add(KERNEL_WORK.loraActivationGrad(rows * I, 'gelu'));
    backward(d, I); // fc1
    t.add(KERNEL_WORK.layerNormBackward(rows, d, false));
    t.add(KERNEL_WORK.accumulate(rows * d));
    backward(d, d); // proj
    t.add(KERNEL_WORK.attentionBackward(B, S, heads, headDim, fused));
    backward(d, 3 * d); // qkv
    t.add(KERNEL_WORK.layerNormBackward(rows, d, false));
    t.add(KERNEL_WORK.accumulate(rows * d));
  }
  optimizerPhase(t, cfg, gradsInOrder(gptDescriptionOfRun(cfg)), launch);
  return t.result();
}

/**
 * A CNN's step (engine/graph/cnn.ts): the step program of estimate/cnn.ts, each forward and
 * backward command as the kernels the trainer records for its node.
 */
function cnnWork(cfg: CnnRunConfig, launch: OptimizerLaunch): StepWork {
  const spec = cnnSpecOf(cfg.model, planConfigOfCnn(cfg));
  if (!spec) throw new Error(`cnnWork: unknown model '${cfg.model}'`);
  const g = cnnGraph(spec, cfg.batch);
  const t = new Tally();
  const conv = (n: Extract<CnnNode, { op: 'conv' }>): ConvShape => {
    const out = (side: number) => Math.floor((side + 2 * n.g.pad - n.g.k) / n.g.stride) + 1;
    return { N: n.g.N, cin: n.g.cin, H: n.g.H, W: n.g.W, cout: n.g.cout, k: n.g.k, OH: out(n.g.H), OW: out(n.g.W) };
  };
  const forward = (n: CnnNode) => {
    switch (n.op) {
      case 'conv':
        return t.add(CNN_KERNEL_WORK.convForward(conv(n), n.b !== null));
      case 'bn':
        return t.add(CNN_KERNEL_WORK.batchNorm(n.N * n.C * n.HW, n.relu, n.residual !== null));
      case 'relu':
        return t.add(CNN_KERNEL_WORK.relu(n.n));
      case 'maxpool':
        return t.add(CNN_KERNEL_WORK.maxPool(n.N * n.C * Math.floor(n.H / 2) * Math.floor(n.W / 2)));
      case 'gap':
        return t.add(CNN_KERNEL_WORK.avgPool(n.N * n.C * n.H * n.W));
      case 'linear':
        return t.add(KERNEL_WORK.matmul(n.rows, n.outF, n.inF, true, undefined));
      case 'loss':
        return;
    }
  };
  const backward = (n: CnnNode) => {
    switch (n.op) {
      case 'conv':
        t.add(CNN_KERNEL_WORK.convBackwardWeight(conv(n), n.b !== null));
        if (n.x !== CNN_IMAGES) t.add(CNN_KERNEL_WORK.convBackwardInput(conv(n)));
        return;
      case 'bn':
        return t.add(CNN_KERNEL_WORK.batchNormBackward(n.N * n.C * n.HW, n.relu));
      case 'relu':
        return t.add(CNN_KERNEL_WORK.reluBackward(n.n));
      case 'maxpool':
        return t.add(CNN_KERNEL_WORK.maxPoolBackward(n.N * n.C * n.H * n.W));
      case 'gap':
        return t.add(CNN_KERNEL_WORK.avgPoolBackward(n.N * n.C * n.H * n.W));
      case 'linear':
        t.add(KERNEL_WORK.matmul(n.inF, n.outF, n.rows, false, undefined)); // dW
        t.add(KERNEL_WORK.columnSum(n.rows, n.outF)); // db
        if (n.x !== CNN_IMAGES) t.add(KERNEL_WORK.matmul(n.rows, n.inF, n.outF, false, undefined)); // dX
        return;
      case 'loss':
        return t.add(KERNEL_WORK.crossEntropy(n.rows, n.classes));
    }
  };
  for (const c of cnnProgram(g, cfg.checkpoint)) {
    // The trainer records consecutive ops of one phase in one segment (engine/graph/cnn.ts step).
    if (c.k === 'op') {
      if (c.phase !== t.phase) t.phase = c.phase;
    } else if (c.k === 'forward') forward(g.nodes[c.node]!);
    else if (c.k === 'backward') backward(g.nodes[c.node]!);
  }
  optimizerPhase(t, cfg, g.params, launch);
  return t.result();
}

/**
 * The work of one training step of `config` on the engine, without running it: FLOPs by
 * phase, matmul FLOPs, dispatches, compute passes and clears, equal to what the engine counts
 * (RunReport.work). Pure: no GPU.
 */
export function stepWork(config: RunConfig | GptRunConfig | LlamaRunConfig | CnnRunConfig, launch: OptimizerLaunch = 'fused'): StepWork {
  if (isCnnRun(config)) return cnnWork(config, launch);
  if (config.model === 'llama') return llamaWork(config, launch);
  return config.model === 'gpt' ? gptWork(config, launch) : mlpWork(config, launch);
}
