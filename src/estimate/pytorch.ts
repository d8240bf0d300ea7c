/**
 * What PyTorch eager keeps for backward, tensor by tensor, for the Hugging Face transformers
 * and torchvision implementations (SDPA attention, torch.autocast, torch.optim foreach).
 * Each count is the bytes per token (transformers) or per sample (ResNet) of the tensors
 * autograd saves; a tensor shared by two ops is counted once.
 *
 * Rules this relies on (PyTorch ≥ 2.1):
 * - autograd saves an input only when the gradient of another input needs it;
 * - autocast casts an activation anew for every op that consumes it (only leaf weights are
 *   cached), so q/k/v projections of one normed input each save their own 16-bit copy;
 * - under autocast the residual stream stays fp32 (fp32 embeddings, fp32 + fp16 → fp32 adds);
 * - layer_norm, softmax, log_softmax run in fp32 under autocast;
 * - SDPA (flash / memory-efficient) saves q, k, v, out and a logsumexp per row, no s² tensor.
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { DtypePlan } from './dtypes.ts';
import { mlaQkvValues, mlaSavedPerToken } from './mla.ts';
import { isMoeLayer, moeBlockBytes } from './moe.ts';
import { resnetConvs } from './params.ts';
import type { ResNetSpec, TransformerSpec } from './specs.ts';
import type { Unit } from './schedule.ts';

const unit = (u: Partial<Unit> & Pick<Unit, 'name'>): Unit => ({
  category: 'activations',
  saved: 0,
  selective: 0,
  checkpointInput: 0,
  fwdTransient: 0,
  bwdTransient: 0,
  castBytes: 0,
  gradBytes: 0,
  recomputable: false,
  ...u,
});

/** Bytes per token of one transformer layer's saved tensors, split for the breakdown. */
export interface LayerBytes {
  /** Attention block: norms, projections' inputs, q/k/v, output, row statistics. */
  attention: number;
  /** s² tensors per token (eager only): scores/softmax/dropout, × s × heads. */
  scores: number;
  mlp: number;
  /** Per-token bytes of a layer's input (the checkpoint). */
  input: number;
}

/**
 * Per-token widths of layer `l` the backward and an inference forward work on: q/k/v values
 * (MLA: decompressed), and the MLP hidden values (MoE: k routed experts and the shared one).
 */
export function layerWidths(s: TransformerSpec, l: number): { qkv: number; mlpHidden: number } {
  const qkv = s.mla ? mlaQkvValues(s) : (s.heads + 2 * s.kvHeads) * s.headDim;
  const m = s.moe;
  const mlpHidden = m && isMoeLayer(s, l) ? m.topK * m.expertIntermediate + m.sharedIntermediate : s.intermediate;
  return { qkv, mlpHidden };
}

/** Saved bytes per token for layer `layer` (scores is per token per key position). */
export function transformerLayerBytes(s: TransformerSpec, dt: DtypePlan, eager: boolean, seq: number, layer = 0): LayerBytes {
  const c = dt.compute;
  const r = dt.residual;
  const h = s.hidden;
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const I = s.intermediate;
  const lnStats = 8; // LayerNorm/RMSNorm: fp32 mean and rstd (or rstd alone ×2 norms) per token
  const drop = s.dropout ? 1 : 0; // bool mask, 1 B per element

  /**
   * A norm feeding `consumers` projections. Under autocast each consumer saves its own cast
   * copy; without it they share the norm's output.
   */
  const normFeeding = (consumers: number): number => {
    if (s.norm === 'layernorm') {
      // layer_norm saves its input (the residual, r) and stats.
      return r * h + lnStats + (dt.autocast ? consumers * c * h : c * h);
    }
    // LlamaRMSNorm in Python: x.float(); pow saves it; x * rsqrt saves the fp32 normed
    // tensor; weight * normed.to(dtype) saves that too.
    if (dt.autocast) return r * h + 4 * h + lnStats + consumers * c * h;
    if (r === 4) return 4 * h + 4 * h + 4 * h + lnStats;
    return 4 * h + 2 * h + 2 * h + lnStats;
  };

  let attention: number;
  let mlp: number;
  const lse = 4 * s.heads; // SDPA logsumexp, fp32 per head per row
  // Softmax output (fp32 under autocast), its dropout mask and output (or the 16-bit cast
  // the value matmul saves): per head, per query, per key.
  const sm = dt.autocast ? 4 : c;
  const scores = eager ? (sm + (s.dropout ? 1 + c : dt.autocast ? c : 0)) * s.heads : 0;
  if (s.family === 'llama') {
    // Fused projections (phi3, falcon) keep one cast of their input where separate ones keep one each.
    const qkvConsumers = s.fusedQkv ? 1 : 3;
    const gated = s.gatedMlp !== false;
    const mlpConsumers = gated && !s.fusedGateUp ? 2 : 1;
    // Falcon-7B: one norm feeds attention and MLP (under autocast the MLP keeps its own cast).
    const shared = s.parallelBlock && s.normsPerLayer === 1;
    const attnNorm = normFeeding(qkvConsumers + (shared ? mlpConsumers : 0));
    const mlpNorm = shared ? 0 : normFeeding(mlpConsumers);
    // q_norm/k_norm (qwen3, gemma3): an fp32 copy and the 16-bit cast per value, a statistic per head.
    const qkNorm = s.qkNorm ? (4 + c) * (q + kv) + 4 * (s.heads + s.kvHeads) : 0;
    if (s.mla) attention = attnNorm + mlaSavedPerToken(s, dt, eager);
    // q and k go through RoPE in fp32 under autocast (cos/sin are fp32), SDPA casts them back.
    else attention = attnNorm + qkNorm + c * q + c * kv + c * kv + c * q /* sdpa out */ + c * q /* merged heads, o_proj input */ + (eager ? 0 : lse);
    if (s.moe && isMoeLayer(s, layer)) mlp = mlpNorm + moeBlockBytes(s, dt, 1).saved;
    // SiLU(gate) * up: silu saves gate, mul saves silu(gate) and up, down_proj saves the product;
    // without a gate, GELU keeps its input and the down projection its output.
    else mlp = mlpNorm + (gated ? 4 : 2) * c * I;
  } else if (s.family === 'gpt2') {
    attention = normFeeding(1) + 3 * c * h /* qkv */ + c * h /* sdpa out */ + c * h /* merged */ + drop * h + (eager ? 0 : lse);
    let act: number;
    if (s.act !== 'gelu-new-python') {
      act = c * I /* fc out, saved by GELU */ + c * I; /* GELU out, saved by c_proj */
    } else if (dt.autocast) {
      // NewGELUActivation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), under autocast: pow is
      // an fp32 op, so pow keeps an fp32 copy of x, tanh's output and (1 + tanh) are fp32,
      // 0.5·x stays 16-bit; the product is fp32 and c_proj keeps its own 16-bit cast.
      act = 4 * I + 4 * I + 2 * I + 4 * I + c * I;
    } else {
      // Same ops in one dtype: x (kept by pow), tanh out, 0.5·x, 1 + tanh, and the output.
      act = 5 * c * I;
    }
    mlp = normFeeding(1) + act + drop * h;
  } else {
    // BERT is post-LN: the layer input (previous LayerNorm's output) feeds q, k, v.
    const qkvIn = dt.autocast ? 3 * c * h : c * h;
    const ln1 = r * h + lnStats; // LayerNorm(dropout(attn) + x) saves its fp32 input
    attention = qkvIn + 3 * c * h + c * h + c * h + drop * h + ln1 + (eager ? 0 : lse);
    const interIn = c * h; // cast (autocast) or the LN output itself
    mlp = interIn + c * I + c * I + drop * h + r * h + lnStats;
  }
  return { attention, mlp, scores: scores * seq, input: r * h };
}

/** Units of a transformer training step under PyTorch eager. */
export function transformerUnits(s: TransformerSpec, cfg: PlanConfig, dt: DtypePlan, grads: (block: number) => number, casts: (block: number) => number, ep = 1): Unit[] {
  const b = cfg.microBatch ?? cfg.batch;
  const seq = cfg.seq;
  const tokens = b * seq;
  const c = dt.compute;
  const r = dt.residual;
  const h = s.hidden;
  const eager = cfg.attention === 'eager';
  const units: Unit[] = [];

  // Embeddings: token (+ position, + type) lookups added in the residual dtype; dropout mask.
  const embSaved = tokens * ((s.dropout ? 1 : 0) * h + (s.family === 'bert' ? r * h + 8 : 0));
  units.push(unit({ name: 'embeddings', saved: embSaved, fwdTransient: tokens * 3 * r * h, bwdTransient: tokens * 2 * r * h, gradBytes: grads(-1), castBytes: casts(-1) }));

  for (let l = 0; l < s.layers; l++) {
    const lb = transformerLayerBytes(s, dt, eager, seq, l);
    const { qkv, mlpHidden: I } = layerWidths(s, l);
    const moe = s.moe && isMoeLayer(s, l) ? moeBlockBytes(s, dt, tokens, ep) : undefined;
    const scoresBytes = tokens * lb.scores;
    // Backward: gradient of the residual (r), of the MLP hidden (two c·I buffers), of q/k/v
    // and flash attention's fp32 dq accumulator; eager adds the s² gradients.
    const mlpBwd = moe ? moe.bwdTransient : tokens * (2 * r * h + 3 * c * I);
    const attnBwd = tokens * (2 * r * h + c * qkv + 4 * s.heads * s.headDim) + (eager ? tokens * seq * s.heads * (c + 8) : 0);
    units.push(
      unit({
        name: `layer ${l}`,
        saved: tokens * (lb.attention + lb.mlp) + scoresBytes,
        selective: scoresBytes,
        checkpointInput: tokens * lb.input,
        // Eager: raw scores and their scaled/masked copy before softmax keeps one.
        fwdTransient: (moe ? tokens * r * h + moe.fwdTransient : tokens * (r * h + c * I)) + (eager ? 2 * c * tokens * seq * s.heads : 0),
        bwdTransient: Math.max(mlpBwd, attnBwd),
        castBytes: casts(l),
        gradBytes: grads(l),
        recomputable: true,
      }),
    );
  }

  // Final norm, head and loss (not checkpointed by Hugging Face).
  const V = s.vocab;
  if (s.head === 'base') {
    units.push(unit({ name: 'final norm', saved: tokens * (s.family === 'bert' ? 0 : r * h + 4 * h + 8), gradBytes: grads(s.layers), castBytes: casts(s.layers) }));
    return units;
  }
  let headSaved: number;
  if (s.family === 'bert') {
    // MLM transform: dense input cast, GELU input, LayerNorm fp32 input, decoder input cast.
    headSaved = tokens * (c * h + c * h + 4 * h + 8 + c * h);
  } else if (s.norm === 'rmsnorm') {
    headSaved = tokens * (r * h + 4 * h + 8 + c * h);
  } else {
    headSaved = tokens * (r * h + 8 + c * h);
  }
  units.push(
    unit({ name: 'final norm and LM head', saved: headSaved, fwdTransient: tokens * c * h, bwdTransient: tokens * (2 * r * h + c * h), castBytes: casts(s.layers), gradBytes: grads(s.layers) }),
  );
  // Loss: logits (16-bit under autocast) → .float() → log_softmax (saved, fp32).
  // Backward: nll grad + log_softmax grad + saved output, all fp32 b·s·V, then the cast.
  const logits32 = tokens * V * 4;
  units.push(
    unit({
      name: 'cross-entropy loss',
      category: 'logits',
      saved: logits32,
      fwdTransient: tokens * V * c + (c === 4 ? 0 : logits32),
      bwdTransient: 2 * logits32,
    }),
  );
  return units;
}

/** Spatial side after a conv/pool of kernel k, stride st, padding p. */
const outSide = (side: number, k: number, st: number, p: number) => Math.floor((side + 2 * p - k) / st) + 1;

/** Units of a torchvision ResNet training step. Bytes per sample × batch. */
export function resnetUnits(s: ResNetSpec, cfg: PlanConfig, dt: DtypePlan, grads: (block: number) => number, casts: (block: number) => number): Unit[] {
  const b = cfg.microBatch ?? cfg.batch;
  const c = dt.compute;
  const { convs } = resnetConvs(s);
  const H = cfg.imageSize;
  const units: Unit[] = [];
  const bnStats = (C: number) => 2 * 4 * C; // save_mean, save_invstd per channel (per batch, not per sample)

  // Stem: conv1 7×7/2 → bn → relu (in place) → maxpool 3×3/2 (saves int64 indices).
  const s1 = outSide(H, 7, 2, 3);
  const s2 = outSide(s1, 3, 2, 1);
  const imageCast = dt.autocast ? c * 3 * H * H : 0;
  const stemSaved = b * (imageCast + 2 * c * 64 * s1 * s1 + c * 64 * s2 * s2 + 8 * 64 * s2 * s2) + bnStats(64);
  units.push(
    unit({ name: 'stem', saved: stemSaved, fwdTransient: 0, bwdTransient: b * 3 * c * 64 * s1 * s1, castBytes: casts(-1), gradBytes: grads(-1) }),
  );

  // Blocks: each conv output is saved by its BatchNorm; each BN output that goes through an
  // in-place ReLU is saved by the ReLU (and by the next conv: the same tensor). The block's
  // last BN output becomes, after `+= identity` and ReLU, the block output.
  let side = s2;
  const byBlock = new Map<number, typeof convs>();
  for (const cv of convs) if (cv.block >= 0) byBlock.set(cv.block, [...(byBlock.get(cv.block) ?? []), cv]);
  let inChannels = 64;
  for (const [blk, list] of byBlock) {
    let saved = 0;
    let largest = 0;
    let cur = side;
    let out = side;
    const inputBytes = c * inChannels * side * side;
    for (const cv of list) {
      const isDown = cv.name.endsWith('downsample');
      const o = outSide(isDown ? side : cur, cv.k, cv.stride, cv.k === 3 ? 1 : 0);
      const t = c * cv.outC * o * o;
      largest = Math.max(largest, t);
      // conv out (saved by BN); BN+ReLU out (saved), except downsample's BN out (summed, not saved).
      saved += isDown ? t : 2 * t;
      if (!isDown) {
        cur = o;
        out = o;
      }
      saved += bnStats(cv.outC) / b;
    }
    side = out;
    inChannels = list[list.length - 1]!.outC;
    const blockIndex = blk;
    units.push(
      unit({
        name: `block ${blockIndex}`,
        saved: b * saved,
        checkpointInput: b * inputBytes,
        fwdTransient: b * largest,
        bwdTransient: b * 3 * largest,
        castBytes: casts(blockIndex),
        gradBytes: grads(blockIndex),
        recomputable: true,
      }),
    );
  }
  // Average pool, fc and the loss: tiny.
  const last = units.length - 1;
  units.push(unit({ name: 'pool, fc and loss', category: 'logits', saved: b * (c * inChannels + 4 * s.classes * 2), castBytes: casts(last), gradBytes: grads(last) }));
  return units;
}
