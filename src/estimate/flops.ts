/**
 * FLOPs of one training step per GPU, counted from the same model specs the memory planner
 * reads, so a change that saves memory can say what it costs in compute. Only matmuls and
 * convolutions are counted (2 FLOPs per multiply-add); norms, activations and the optimizer
 * are a few percent and left out, as in the usual accounting (Kaplan et al. 2020, Table 1;
 * Hoffmann et al. 2022, Appendix F).
 */
import { familyForwardFlops } from './families.ts';
import type { PlanConfig } from '../protocol/config.ts';
import { inventory, numel, resnetConvs } from './params.ts';
import type { ModelSpec } from './specs.ts';

/** Where the FLOPs of one forward pass go, for the whole batch of one optimizer step. */
export interface ForwardFlops {
  /** The checkpointed body (transformer layers, ResNet blocks, MLP blocks), attention core included. */
  body: number;
  /** QKᵀ and P·V of every layer (4·s·a·d_head per token and layer), part of `body`. */
  attentionCore: number;
  /** Outside the body: the LM head, the ResNet stem and classifier. */
  other: number;
}

export interface StepFlops extends ForwardFlops {
  forward: number;
  backward: number;
  /** Forward work run again in backward: checkpointing, and FlashAttention's QKᵀ. */
  recompute: number;
  total: number;
}

export function forwardFlops(spec: ModelSpec, cfg: PlanConfig): ForwardFlops {
  if (spec.kind !== 'resnet' && spec.kind !== 'transformer' && spec.kind !== 'mlp') return familyForwardFlops(spec, cfg);
  const inv = inventory(spec);
  if (spec.kind === 'transformer') {
    const tokens = cfg.batch * cfg.seq;
    const L = spec.layers;
    let layerMatmul = 0;
    let headMatmul = inv.tiedHeadElems;
    for (const t of inv.tensors) {
      if (!t.matmul) continue;
      // A routed expert sees k / E of the tokens (moe.ts): an MoE's compute follows its active parameters.
      if (t.block >= 0 && t.block < L) layerMatmul += numel(t) * (t.active ?? 1);
      else if (t.block >= L) headMatmul += numel(t);
    }
    // Hoffmann et al. 2022, App. F: logits 2·s·key_size·heads and reduce 2·s·key_size·heads per token.
    const attentionCore = L * tokens * 4 * cfg.seq * spec.heads * spec.headDim;
    return { body: 2 * tokens * layerMatmul + attentionCore, attentionCore, other: 2 * tokens * headMatmul };
  }
  if (spec.kind === 'mlp') {
    const matmul = inv.tensors.reduce((a, t) => a + (t.matmul ? t.rows * t.cols : 0), 0);
    return { body: 2 * cfg.batch * matmul, attentionCore: 0, other: 0 };
  }
  // ResNet: 2·out·in·k²·H_out·W_out per conv; stem conv and max-pool each halve the side.
  const { convs, fcIn } = resnetConvs(spec);
  const down = (side: number, stride: number) => (stride > 1 ? Math.ceil(side / 2) : side);
  let side = down(cfg.imageSize, 2);
  let body = 0;
  let other = 2 * 64 * 3 * 49 * side * side;
  side = down(side, 2);
  let blockIn = side;
  let block = -1;
  for (const c of convs) {
    if (c.block < 0) continue;
    if (c.block !== block) {
      block = c.block;
      blockIn = side;
    }
    const input = c.name.endsWith('downsample') ? blockIn : side;
    const out = down(input, c.stride);
    if (!c.name.endsWith('downsample')) side = out;
    body += 2 * c.outC * c.inC * c.k * c.k * out * out;
  }
  other += 2 * fcIn * spec.classes;
  return { body: body * cfg.batch, attentionCore: 0, other: other * cfg.batch };
}

/**
 * One optimizer step: forward, backward (2× forward: gradients of the inputs and of the weights;
 * 1× with LoRA, whose frozen base needs no weight gradients and whose adapters are negligible),
 * and the recomputation. Checkpointing `full` and `sqrt` both run each body unit's forward once
 * more (Chen et al. 2016: "one extra forward pass"); `selective` reruns the attention core of
 * eager attention; fused attention (FlashAttention) recomputes QKᵀ in its backward (Dao et al.
 * 2022), which is also why selective adds nothing to it.
 */
export function stepFlops(spec: ModelSpec, cfg: PlanConfig): StepFlops {
  const f = forwardFlops(spec, cfg);
  const forward = f.body + f.other;
  const backward = (cfg.loraRank > 0 ? 1 : 2) * forward;
  let recompute = 0;
  if (cfg.mode === 'train') {
    const transformer = spec.kind === 'transformer';
    const flashQk = transformer && cfg.attention === 'fused' ? f.attentionCore / 2 : 0;
    if (cfg.checkpoint === 'full' || cfg.checkpoint === 'sqrt') recompute = f.body + flashQk;
    else if (cfg.checkpoint === 'selective' && cfg.attention === 'eager') recompute = f.attentionCore;
    else recompute = flashQk;
  }
  if (cfg.mode === 'inference') return { ...f, forward, backward: 0, recompute: 0, total: forward };
  return { ...f, forward, backward, recompute, total: forward + backward + recompute };
}
