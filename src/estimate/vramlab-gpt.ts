/**
 * The engine's GPT-style decoder (the gpt2 family: learned positions, pre-LayerNorm blocks,
 * GELU(tanh) MLP, LM head tied to the token embedding, no dropout), with or without LoRA and
 * QLoRA, as one ModelDescription (describe.ts, describe-lora.ts). The trainer
 * (src/engine/graph/gpt.ts) allocates from it and the planner's framework-vramlab estimate reads it.
 *
 * rows = batch·seq; `a` = activation storage (4 B, or 2 B packed under amp); activation
 * gradients fp32 (G = 4·rows·d). Weights stored in × out: Wqkv d×3d, Wo d×d, W1 d×I, W2 I×d
 * (I = inner, 4d); wte V×d, read transposed by the LM head; wpe one row per position.
 *
 * - embeddings: x0 = wte[ids] + wpe[pos] (rows×d); wpe's gradient is made in its backward
 *   (wte's began in the head's).
 * - block l keeps its input x, y1 = LN1(x) with mean and rstd (f32 per row), qkv (rows×3d),
 *   the attention's probabilities (eager: batch·heads·seq² values) or per-row logsumexp
 *   (fused: f32 batch·heads·seq), its output (rows×d), x1 = x + out·Wo + bo, y2 = LN2(x1) with
 *   mean and rstd, pre = y2·W1 + b1 and act = gelu(pre) (rows×I); the projection and the MLP
 *   output live only until added to the residual. Its output x2 = x1 + m.
 * - block backward, in order: the block's gradients; dPre (rows×I) and dY2 beside the incoming
 *   dX2; then dX1, the attention's dOut and dQkv, dY1 and dX, each freed as soon as used.
 * - head: yf = LNf(x_L) with mean and rstd, logits = yf·wteᵀ (rows×V); the loss (start of
 *   backward) creates dLogits (f32 rows×V), then dYf and dX_L.
 * - checkpointing: full keeps each block's input and recomputes the block in backward; √n
 *   keeps every ⌈√L⌉-th block's input and recomputes a segment at a time, its last block
 *   stopping after the MLP's activation; selective drops only the eager probabilities.
 * - LoRA (rank r > 0) on Wqkv, Wo, W1, W2 (describe-lora.ts): the base frozen, the head and
 *   the embeddings compute no weight gradients; each projection adds its s·(x·A) to what the
 *   block keeps and its adapter's product, d(x·A) and part of dX to its moments. The GELU is
 *   applied after the adapter's product is added (its own kernel), likewise its backward; a
 *   recomputed segment's last block also makes fc2's s·(x·A).
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { GptRunConfig } from '../protocol/run.ts';
import { type ModelDescription, type ParamDesc, type TensorDesc, type UnitDesc, decoderBlockOps, decoderEmbeddingsUnit } from './describe.ts';
import { type LoraSetting, type LoraTarget, frozen, loraBackwardMoment, loraForwardMoment, loraName, loraParams, loraTensors } from './describe-lora.ts';
import { EstimateError } from './errors.ts';
import type { TransformerSpec } from './specs.ts';
import { ENGINE_OP, storageBytes } from './vramlab.ts';

/** The engine's shape of a GPT-style decoder. */
export interface GptShape {
  vocab: number;
  d: number;
  heads: number;
  layers: number;
  inner: number;
  /** Rows of the position table. */
  maxPos: number;
}

export interface GptStep {
  batch: number;
  seq: number;
  amp: boolean;
  attention: 'eager' | 'fused';
  /** 0: full fine-tuning. */
  loraRank: number;
  qlora: boolean;
}

/** GPT-2's initialisation: N(0, 0.02) weights (here uniform with that deviation), zero biases, unit LayerNorm gains. */
export const GPT_INIT_STD = 0.02;

export function gptShape(s: TransformerSpec): GptShape {
  return { vocab: s.vocab, d: s.hidden, heads: s.heads, layers: s.layers, inner: s.intermediate, maxPos: s.maxPositions };
}

export function checkEngineGpt(s: TransformerSpec, cfg: PlanConfig): void {
  const fix = 'or use --framework pytorch for a PyTorch estimate';
  if (s.family !== 'gpt2' || s.head !== 'causal-lm' || !s.tiedEmbeddings) {
    throw new EstimateError(`framework vramlab: the engine runs GPT-style decoders (gpt2 family, tied LM head); ${s.name} is not one, ${fix}`);
  }
  if (cfg.seq > s.maxPositions) throw new EstimateError(`framework vramlab: seq ${cfg.seq} is over the model's ${s.maxPositions} positions; lower --seq`);
  if (cfg.loraRank > s.hidden) throw new EstimateError(`framework vramlab: LoRA rank ${cfg.loraRank} is over the model's width ${s.hidden}; lower --lora-rank`);
}

/** Parameter names, shared by the engine and the description. */
export const gptParamName = {
  wte: 'wte',
  wpe: 'wpe',
  lnfg: 'lnf.g',
  lnfb: 'lnf.b',
  block: (l: number) => ({
    ln1g: `h${l}.ln1.g`, ln1b: `h${l}.ln1.b`, bqkv: `h${l}.attn.bqkv`, Wqkv: `h${l}.attn.Wqkv`, bo: `h${l}.attn.bo`, Wo: `h${l}.attn.Wo`,
    ln2g: `h${l}.ln2.g`, ln2b: `h${l}.ln2.b`, b1: `h${l}.mlp.b1`, W1: `h${l}.mlp.W1`, b2: `h${l}.mlp.b2`, W2: `h${l}.mlp.W2`,
  }),
};

/** The block projections LoRA adapts, in the engine's order (qkv, proj, fc1, fc2). */
export function gptLoraTargets(l: number, d: number, inner: number): Record<'qkv' | 'proj' | 'fc1' | 'fc2', LoraTarget> {
  const n = gptParamName.block(l);
  const init = { kind: 'uniform', std: GPT_INIT_STD } as const;
  return {
    qkv: { name: n.Wqkv, K: d, N: 3 * d, init },
    proj: { name: n.Wo, K: d, N: d, init },
    fc1: { name: n.W1, K: d, N: inner, init },
    fc2: { name: n.W2, K: inner, N: d, init },
  };
}

export function gptDescription(sh: GptShape, step: GptStep): ModelDescription {
  const { vocab: V, d, heads: H, layers: L, inner: I } = sh;
  const { batch: B, seq: S } = step;
  const rows = B * S;
  const lora = step.loraRank > 0;
  const setting: LoraSetting = { rank: step.loraRank, qlora: step.qlora, amp: step.amp };
  const a = (n: number): TensorDesc => ({ bytes: storageBytes(n, step.amp), category: 'activations' });
  const f32 = (n: number): TensorDesc => ({ bytes: 4 * n, category: 'activations' });
  const g = (n: number): TensorDesc => ({ bytes: 4 * n, category: 'activation-grads' });
  const weight = (name: string, n: number, matmul: boolean): ParamDesc => ({ name, n, matmul, init: { kind: 'uniform', std: GPT_INIT_STD } });
  const ones = (name: string, n: number): ParamDesc => ({ name, n, matmul: false, init: { kind: 'ones' } });
  const zeros = (name: string, n: number): ParamDesc => ({ name, n, matmul: false, init: { kind: 'zeros' } });

  const wte = weight(gptParamName.wte, V * d, true);
  const wpe = weight(gptParamName.wpe, sh.maxPos * d, false);
  // In the engine's order of creation (each bias before its weight), which is the gradients' too.
  const blockParams = Array.from({ length: L }, (_, l) => {
    const n = gptParamName.block(l);
    return {
      ln1g: ones(n.ln1g, d), ln1b: zeros(n.ln1b, d),
      bqkv: zeros(n.bqkv, 3 * d), Wqkv: weight(n.Wqkv, d * 3 * d, true),
      bo: zeros(n.bo, d), Wo: weight(n.Wo, d * d, true),
      ln2g: ones(n.ln2g, d), ln2b: zeros(n.ln2b, d),
      b1: zeros(n.b1, I), W1: weight(n.W1, d * I, true),
      b2: zeros(n.b2, d), W2: weight(n.W2, I * d, true),
    };
  });
  const lnfg = ones(gptParamName.lnfg, d);
  const lnfb = zeros(gptParamName.lnfb, d);
  const base = [wte, wpe, ...blockParams.flatMap((b) => Object.values(b)), lnfg, lnfb];
  const targets = Array.from({ length: L }, (_, l) => gptLoraTargets(l, d, I));
  // Under LoRA the base is frozen, each adapted projection followed by its adapters.
  const adaptedBy = new Map(targets.flatMap((t) => Object.values(t)).map((t) => [t.name, t]));
  const params = lora ? base.flatMap((p) => (adaptedBy.has(p.name) ? loraParams(adaptedBy.get(p.name)!, setting) : [frozen(p)])) : base;
  const byName = new Map(params.map((p) => [p.name, p]));
  const paramOf = (name: string) => byName.get(name)!;

  const units: UnitDesc[] = [];
  // wte's gradient starts in the head's backward (tied), wpe's here.
  units.push(decoderEmbeddingsUnit(a(rows * d), g(rows * d), lora ? [] : [wpe]));
  const attnSaved = step.attention === 'eager' ? a(B * H * S * S) : f32(B * H * S);
  for (let l = 0; l < L; l++) {
    const t = (name: string) => `h${l}.${name}`;
    const input = l === 0 ? 'x0' : `h${l - 1}.x2`;
    const dIn = l === L - 1 ? 'lnf.dx' : `h${l + 1}.dx`;
    const attn = t(step.attention === 'eager' ? 'attn.probs' : 'attn.lse');
    const tg = targets[l]!;
    const w = { qkv: tg.qkv.name, proj: tg.proj.name, fc1: tg.fc1.name, fc2: tg.fc2.name };
    const tensors: Record<string, TensorDesc> = {
      [input]: a(rows * d),
      [t('y1')]: a(rows * d),
      [t('ln1.mean')]: f32(rows),
      [t('ln1.rstd')]: f32(rows),
      [t('qkv')]: a(rows * 3 * d),
      [t('attn.out')]: a(rows * d),
      [attn]: attnSaved,
      [t('attn.proj')]: a(rows * d),
      [t('x1')]: a(rows * d),
      [t('y2')]: a(rows * d),
      [t('ln2.mean')]: f32(rows),
      [t('ln2.rstd')]: f32(rows),
      [t('mlp.pre')]: a(rows * I),
      [t('mlp.act')]: a(rows * I),
      [t('mlp.out')]: a(rows * d),
      [t('x2')]: a(rows * d),
      [dIn]: g(rows * d),
      [t('mlp.dPre')]: g(rows * I),
      [t('ln2.dy')]: g(rows * d),
      [t('dx1')]: g(rows * d),
      [t('attn.dOut')]: g(rows * d),
      [t('attn.dQkv')]: g(rows * 3 * d),
      [t('ln1.dy')]: g(rows * d),
      [t('dx')]: g(rows * d),
      ...(lora ? Object.assign({}, ...Object.values(tg).map((x) => loraTensors(x, rows, setting))) : {}),
    };
    // What the forward keeps, in the order it makes them; under LoRA each projection's s·(x·A) after its output.
    const upToAttn = [input, t('y1'), t('ln1.mean'), t('ln1.rstd'), t('qkv'), ...(lora ? [loraName.xa(w.qkv)] : []), t('attn.out'), attn];
    const upToX1 = [...upToAttn, ...(lora ? [loraName.xa(w.proj)] : []), t('x1')];
    const upToAct = [...upToX1, t('y2'), t('ln2.mean'), t('ln2.rstd'), t('mlp.pre'), t('mlp.act'), ...(lora ? [loraName.xa(w.fc1)] : [])];
    const saved = [...upToAct, ...(lora ? [loraName.xa(w.fc2)] : [])];
    const bp = blockParams[l]!;
    const forwardMoments = lora
      ? [
          // Each projection's adapter product, until added to the base's.
          loraForwardMoment(w.qkv, [input, t('y1'), t('ln1.mean'), t('ln1.rstd'), t('qkv')]),
          loraForwardMoment(w.proj, [...upToAttn, t('attn.proj')]),
          [...upToAttn, t('attn.proj'), loraName.xa(w.proj), t('x1')],
          [...upToAct, loraName.xaB(w.fc1)],
          [...saved, t('mlp.out'), loraName.xaB(w.fc2)],
          [...saved, t('mlp.out'), t('x2')],
        ]
      : [
          // The output projection beside the residual it is added to; the end.
          [...upToAttn, t('attn.proj'), t('x1')],
          [...saved, t('mlp.out'), t('x2')],
        ];
    // Recomputed as a segment's last block it stops after the activation (and fc2's s·(x·A)).
    const lastRecomputeMoments = [...forwardMoments.filter((m) => !m.includes(t('mlp.out'))), saved];
    const backwardMoments = lora
      ? [
          loraBackwardMoment(w.fc2, [dIn, t('mlp.dPre')]),
          loraBackwardMoment(w.fc1, [dIn, t('mlp.dPre'), t('ln2.dy')]),
          [dIn, t('ln2.dy'), t('dx1')],
          loraBackwardMoment(w.proj, [t('dx1'), t('attn.dOut')]),
          [t('dx1'), t('attn.dOut'), t('attn.dQkv')],
          loraBackwardMoment(w.qkv, [t('dx1'), t('attn.dQkv'), t('ln1.dy')]),
          [t('dx1'), t('ln1.dy'), t('dx')],
        ]
      : [
          [dIn, t('mlp.dPre'), t('ln2.dy')],
          [dIn, t('ln2.dy'), t('dx1')],
          [t('dx1'), t('attn.dOut'), t('attn.dQkv')],
          [t('dx1'), t('attn.dQkv'), t('ln1.dy')],
          [t('dx1'), t('ln1.dy'), t('dx')],
        ];
    const grads = lora
      ? Object.values(tg).flatMap((x) => [paramOf(loraName.A(x.name)), paramOf(loraName.B(x.name))])
      : [bp.ln1g, bp.ln1b, bp.Wqkv, bp.bqkv, bp.Wo, bp.bo, bp.ln2g, bp.ln2b, bp.W1, bp.b1, bp.W2, bp.b2];
    units.push({
      name: `block ${l}`,
      recomputable: true,
      grads,
      tensors,
      saved,
      // Selective recompute drops the eager probabilities (fused attention keeps none).
      selective: step.attention === 'eager' ? [attn] : [],
      forwardMoments,
      backwardMoments,
      lastRecomputeMoments,
      ops: decoderBlockOps(l, a(rows * d).bytes, g(rows * d).bytes),
    });
  }
  const xL = L === 0 ? 'x0' : `h${L - 1}.x2`;
  const headSaved = [xL, 'lnf.y', 'lnf.mean', 'lnf.rstd', 'logits'];
  units.push({
    name: 'final norm, LM head and loss',
    recomputable: false,
    // The tied embedding's gradient starts here.
    grads: lora ? [] : [wte, lnfg, lnfb],
    tensors: { [xL]: a(rows * d), 'lnf.y': a(rows * d), 'lnf.mean': f32(rows), 'lnf.rstd': f32(rows), logits: a(rows * V), dLogits: g(rows * V), 'lnf.dy': g(rows * d), 'lnf.dx': g(rows * d) },
    saved: headSaved,
    selective: [],
    forwardMoments: [headSaved],
    backwardMoments: [['dLogits', 'lnf.dy', 'lnf.dx']],
    ops: { forward: ENGINE_OP.forwardHead, backward: ENGINE_OP.lossAndHeadBackward, input: a(rows * d).bytes, output: 0, gradOut: g(rows * d).bytes },
  });
  return { params, units, inputBytes: 2 * 4 * rows };
}

/** The description of a planner configuration (a gpt2-family spec). */
export function gptDescriptionOf(s: TransformerSpec, cfg: PlanConfig): ModelDescription {
  checkEngineGpt(s, cfg);
  return gptDescription(gptShape(s), { batch: cfg.batch, seq: cfg.seq, amp: cfg.precision !== 'fp32', attention: cfg.attention, loraRank: cfg.loraRank, qlora: cfg.qlora });
}

/** The description of a GPT run: inner 4·d, one position per token of the sequence. */
export function gptDescriptionOfRun(cfg: GptRunConfig): ModelDescription {
  return gptDescription(
    { vocab: cfg.vocab, d: cfg.dModel, heads: cfg.heads, layers: cfg.layers, inner: 4 * cfg.dModel, maxPos: cfg.seq },
    { batch: cfg.batch, seq: cfg.seq, amp: cfg.precision !== 'fp32', attention: cfg.attention, loraRank: cfg.loraRank ?? 0, qlora: cfg.qlora ?? false },
  );
}
