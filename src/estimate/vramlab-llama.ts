/**
 * The engine's Llama-style decoder (llama, mistral, qwen2 configs: token embedding, L
 * pre-RMSNorm blocks with rotary positions, grouped-query causal attention and a SwiGLU MLP,
 * a final RMSNorm, an LM head tied to the embedding or not, cross-entropy; no dropout), as one
 * ModelDescription (describe.ts). The trainer (src/engine/graph/llama.ts) allocates from it and
 * the planner's framework-vramlab estimate reads it.
 *
 * rows = batch·seq; `a` = activation storage (4 B, or 2 B packed under amp); activation
 * gradients fp32 (G = 4·rows·d). W = (heads + 2·kvHeads)·headDim, the fused qkv row;
 * Hq = heads·headDim. Weights stored in × out: Wqkv d×W (+ bias W for qwen2), Wo Hq×d,
 * Wgu d×2I ([gate | up]), Wd I×d; the untied LM head d×V.
 *
 * Block l keeps: its input x; y1 = RMS1(x) and rstd1 (f32 per row); qkv with rotated q, k
 * (rows×W); the attention's probabilities (eager, B·heads·s²) or row logsumexp (fused, f32
 * B·heads·s); its output (rows×Hq); x1 = x + out·Wo; y2 = RMS2(x1) and rstd2; gu = y2·Wgu
 * (rows×2I); act = silu(gate)·up (rows×I). Transient: qkv before the rotation, the projection
 * and the MLP output until added to the residual. Its output x2.
 *
 * LoRA (rank r > 0; describe-lora.ts, engine/graph/lora.ts): Wqkv, Wo, Wgu and Wd become
 * frozen bases (fp32, packed 16-bit under amp, NF4 under QLoRA) with fp32 adapters A and B;
 * every other parameter (norms, embedding, LM head, qwen2's q/k/v bias) is frozen fp32. Only
 * the adapters have gradients and optimizer states. Each block also keeps s·(x·A) of each
 * projection, holds the adapter's product beside the base's output in forward and d(x·A) with
 * the adapter's part of dX in backward. A block recomputed last in its segment stops after
 * the SwiGLU and Wd's s·(x·A).
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { LlamaRunConfig } from '../protocol/run.ts';
import { type ModelDescription, type ParamDesc, type TensorDesc, type UnitDesc, decoderBlockOps, decoderEmbeddingsUnit } from './describe.ts';
import { frozen, type LoraSetting, type LoraTarget, loraBackwardMoment, loraForwardMoment, loraName, loraParams, loraTensors } from './describe-lora.ts';
import { EstimateError } from './errors.ts';
import type { TransformerSpec } from './specs.ts';
import { ENGINE_OP, storageBytes } from './vramlab.ts';

/** The engine's shape of a Llama-style decoder. */
export interface LlamaShape {
  vocab: number;
  d: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  inner: number;
  tied: boolean;
  qkvBias: boolean;
}

export interface LlamaStep {
  batch: number;
  seq: number;
  amp: boolean;
  attention: 'eager' | 'fused';
  /** LoRA rank on Wqkv, Wo, Wgu, Wd; absent or 0: full fine-tuning. */
  loraRank?: number;
  /** QLoRA: the adapted bases stored NF4. */
  qlora?: boolean;
}

/** Llama's initialiser_range (HF LlamaConfig): N(0, 0.02), here uniform with that deviation. */
export const LLAMA_INIT_STD = 0.02;

export function llamaShape(s: TransformerSpec): LlamaShape {
  return { vocab: s.vocab, d: s.hidden, layers: s.layers, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, inner: s.intermediate, tied: s.tiedEmbeddings, qkvBias: s.qkvBias };
}

/** Whether the engine's Llama runs this spec; the reason when not. */
export function checkEngineLlama(s: TransformerSpec): void {
  const fix = 'or use --framework pytorch for a PyTorch estimate';
  if (s.family !== 'llama' || s.head !== 'causal-lm' || s.act !== 'silu' || s.normsPerLayer !== 2 || s.attnOutBias || s.linearBias) {
    throw new EstimateError(`framework vramlab: the engine runs Llama-style decoders (llama, mistral, qwen2: SwiGLU, RMSNorm, causal LM head); ${s.name} is not one, ${fix}`);
  }
  if (s.moe) throw new EstimateError(`framework vramlab: the engine's Llama has no mixture of experts; ${s.name} has one, ${fix}`);
  if (s.heads % s.kvHeads !== 0) throw new EstimateError(`framework vramlab: kv heads (${s.kvHeads}) must divide heads (${s.heads})`);
  if (s.headDim % 2 !== 0) throw new EstimateError(`framework vramlab: rotary positions need an even head size, got ${s.headDim}`);
}

/** Parameter names, shared by the engine and the description. */
export const llamaParamName = {
  embed: 'embed',
  lmHead: 'lm_head',
  norm: 'norm.g',
  block: (l: number) => ({ ln1: `h${l}.ln1.g`, Wqkv: `h${l}.attn.Wqkv`, bqkv: `h${l}.attn.bqkv`, Wo: `h${l}.attn.Wo`, ln2: `h${l}.ln2.g`, Wgu: `h${l}.mlp.Wgu`, Wd: `h${l}.mlp.Wd` }),
};

export function llamaDescription(sh: LlamaShape, step: LlamaStep): ModelDescription {
  const { vocab: V, d, layers: L, heads: H, kvHeads: KV, headDim: hd, inner: I } = sh;
  const { batch: B, seq: S } = step;
  const rows = B * S;
  const W = (H + 2 * KV) * hd;
  const Hq = H * hd;
  const a = (n: number): TensorDesc => ({ bytes: storageBytes(n, step.amp), category: 'activations' });
  const f32 = (n: number): TensorDesc => ({ bytes: 4 * n, category: 'activations' });
  const g = (n: number): TensorDesc => ({ bytes: 4 * n, category: 'activation-grads' });
  const weight = (name: string, n: number): ParamDesc => ({ name, n, matmul: true, init: { kind: 'uniform', std: LLAMA_INIT_STD } });
  const ones = (name: string, n: number): ParamDesc => ({ name, n, matmul: false, init: { kind: 'ones' } });
  const zeros = (name: string, n: number): ParamDesc => ({ name, n, matmul: false, init: { kind: 'zeros' } });
  const r = step.loraRank ?? 0;
  const lora: LoraSetting | null = r > 0 ? { rank: r, amp: step.amp, qlora: step.qlora ?? false } : null;
  // Under LoRA: each projection a frozen base and its adapters, everything else frozen as it is.
  const fix = (p: ParamDesc): ParamDesc => (lora ? frozen(p) : p);
  const target = (name: string, K: number, N: number): LoraTarget => ({ name, K, N, init: { kind: 'uniform', std: LLAMA_INIT_STD } });
  const projection = (t: LoraTarget): ParamDesc[] => (lora ? loraParams(t, lora) : [weight(t.name, t.K * t.N)]);

  // The embedding table is read by a matmul only when the LM head is tied to it.
  const embed: ParamDesc = fix({ name: llamaParamName.embed, n: V * d, matmul: sh.tied, init: { kind: 'uniform', std: LLAMA_INIT_STD } });
  const blockParams = Array.from({ length: L }, (_, l) => {
    const n = llamaParamName.block(l);
    const targets = { qkv: target(n.Wqkv, d, W), o: target(n.Wo, Hq, d), gu: target(n.Wgu, d, 2 * I), down: target(n.Wd, I, d) };
    return {
      targets,
      ln1: fix(ones(n.ln1, d)),
      Wqkv: projection(targets.qkv),
      bqkv: sh.qkvBias ? fix(zeros(n.bqkv, W)) : null,
      Wo: projection(targets.o),
      ln2: fix(ones(n.ln2, d)),
      Wgu: projection(targets.gu),
      Wd: projection(targets.down),
    };
  });
  const norm = fix(ones(llamaParamName.norm, d));
  const lmHead = sh.tied ? null : fix(weight(llamaParamName.lmHead, d * V));
  const blockList = (b: (typeof blockParams)[number]) => [b.ln1, ...b.Wqkv, ...(b.bqkv ? [b.bqkv] : []), ...b.Wo, b.ln2, ...b.Wgu, ...b.Wd];
  const params = [embed, ...blockParams.flatMap(blockList), norm, ...(lmHead ? [lmHead] : [])];
  const trains = (ps: ParamDesc[]) => ps.filter((p) => p.role !== 'frozen');

  const units: UnitDesc[] = [];
  // Tied: the embedding's gradient starts in the head's backward.
  units.push(decoderEmbeddingsUnit(a(rows * d), g(rows * d), trains(sh.tied ? [] : [embed])));
  const attnSaved = step.attention === 'eager' ? a(B * H * S * S) : f32(B * H * S);
  const blockOps = (l: number) => decoderBlockOps(l, a(rows * d).bytes, g(rows * d).bytes);
  for (let l = 0; l < L; l++) {
    const p = `h${l}`;
    const t = (name: string) => `${p}.${name}`;
    const input = l === 0 ? 'x0' : `h${l - 1}.x2`;
    const dIn = l === L - 1 ? 'lnf.dx' : `h${l + 1}.dx`;
    const attn = t(step.attention === 'eager' ? 'attn.probs' : 'attn.lse');
    const tensors: Record<string, TensorDesc> = {
      [input]: a(rows * d),
      [t('y1')]: a(rows * d),
      [t('ln1.rstd')]: f32(rows),
      [t('qkv.raw')]: a(rows * W),
      [t('qkv')]: a(rows * W),
      [attn]: attnSaved,
      [t('attn.out')]: a(rows * Hq),
      [t('attn.proj')]: a(rows * d),
      [t('x1')]: a(rows * d),
      [t('y2')]: a(rows * d),
      [t('ln2.rstd')]: f32(rows),
      [t('mlp.gu')]: a(rows * 2 * I),
      [t('mlp.act')]: a(rows * I),
      [t('mlp.out')]: a(rows * d),
      [t('x2')]: a(rows * d),
      [dIn]: g(rows * d),
      [t('mlp.dAct')]: g(rows * I),
      [t('mlp.dGu')]: g(rows * 2 * I),
      [t('ln2.dy')]: g(rows * d),
      [t('dx1')]: g(rows * d),
      [t('attn.dOut')]: g(rows * Hq),
      [t('attn.dQkv')]: g(rows * W),
      [t('attn.dQkvRaw')]: g(rows * W),
      [t('ln1.dy')]: g(rows * d),
      [t('dx')]: g(rows * d),
    };
    const bp = blockParams[l]!;
    const backwardMoments = [
      [dIn, t('mlp.dAct'), t('mlp.dGu')],
      [dIn, t('mlp.dGu'), t('ln2.dy')],
      [dIn, t('ln2.dy'), t('dx1')],
      [t('dx1'), t('attn.dOut'), t('attn.dQkv')],
      [t('dx1'), t('attn.dQkv'), t('attn.dQkvRaw')],
      [t('dx1'), t('attn.dQkvRaw'), t('ln1.dy')],
      [t('dx1'), t('ln1.dy'), t('dx')],
    ];
    const saved = [input, t('y1'), t('ln1.rstd'), t('qkv'), attn, t('attn.out'), t('x1'), t('y2'), t('ln2.rstd'), t('mlp.gu'), t('mlp.act')];
    if (!lora) {
      units.push({
        name: `block ${l}`,
        recomputable: true,
        grads: blockList(bp),
        tensors,
        saved,
        selective: step.attention === 'eager' ? [attn] : [],
        forwardMoments: [
          // The rotation: qkv before and after.
          [input, t('y1'), t('ln1.rstd'), t('qkv.raw'), t('qkv')],
          // The output projection beside the residual it is added to.
          [...saved.slice(0, 6), t('attn.proj'), t('x1')],
          // The end: everything saved, the MLP output and x2.
          [...saved, t('mlp.out'), t('x2')],
        ],
        backwardMoments,
        ops: blockOps(l),
      });
      continue;
    }
    // LoRA: the same block, each projection's s·(x·A) kept, its product and its backward's extras for a moment.
    const { qkv, o, gu, down } = bp.targets;
    for (const tg of [qkv, o, gu, down]) Object.assign(tensors, loraTensors(tg, rows, lora));
    const xa = loraName.xa;
    const toOut = [input, t('y1'), t('ln1.rstd'), xa(qkv.name), t('qkv'), attn, t('attn.out')];
    const toGu = [...toOut, xa(o.name), t('x1'), t('y2'), t('ln2.rstd'), t('mlp.gu')];
    const loraSaved = [...toGu, xa(gu.name), t('mlp.act'), xa(down.name)];
    const untilSwiglu = [
      loraForwardMoment(qkv.name, [input, t('y1'), t('ln1.rstd'), t('qkv.raw')]),
      [input, t('y1'), t('ln1.rstd'), xa(qkv.name), t('qkv.raw'), t('qkv')],
      loraForwardMoment(o.name, [...toOut, t('attn.proj')]),
      [...toOut, xa(o.name), t('attn.proj'), t('x1')],
      loraForwardMoment(gu.name, toGu),
    ];
    units.push({
      name: `block ${l}`,
      recomputable: true,
      grads: trains(blockList(bp)),
      tensors,
      saved: loraSaved,
      selective: step.attention === 'eager' ? [attn] : [],
      forwardMoments: [...untilSwiglu, loraForwardMoment(down.name, [...toGu, xa(gu.name), t('mlp.act'), t('mlp.out')]), [...loraSaved, t('mlp.out'), t('x2')]],
      lastRecomputeMoments: [...untilSwiglu, loraSaved],
      backwardMoments: [
        ...backwardMoments,
        loraBackwardMoment(down.name, [dIn, t('mlp.dAct')]),
        loraBackwardMoment(gu.name, [dIn, t('mlp.dGu'), t('ln2.dy')]),
        loraBackwardMoment(o.name, [t('dx1'), t('attn.dOut')]),
        loraBackwardMoment(qkv.name, [t('dx1'), t('attn.dQkvRaw'), t('ln1.dy')]),
      ],
      ops: blockOps(l),
    });
  }
  const xL = L === 0 ? 'x0' : `h${L - 1}.x2`;
  units.push({
    name: 'final norm, LM head and loss',
    recomputable: false,
    grads: trains([...(sh.tied ? [embed] : []), norm, ...(lmHead ? [lmHead] : [])]),
    tensors: { [xL]: a(rows * d), 'lnf.y': a(rows * d), 'lnf.rstd': f32(rows), logits: a(rows * V), dLogits: g(rows * V), 'lnf.dy': g(rows * d), 'lnf.dx': g(rows * d) },
    saved: [xL, 'lnf.y', 'lnf.rstd', 'logits'],
    selective: [],
    forwardMoments: [[xL, 'lnf.y', 'lnf.rstd', 'logits']],
    backwardMoments: [['dLogits', 'lnf.dy', 'lnf.dx']],
    ops: { forward: ENGINE_OP.forwardHead, backward: ENGINE_OP.lossAndHeadBackward, input: a(rows * d).bytes, output: 0, gradOut: g(rows * d).bytes },
  });
  return { params, units, inputBytes: 2 * 4 * rows };
}

/** The description of a planner configuration (a llama-family spec). */
export function llamaDescriptionOf(s: TransformerSpec, cfg: PlanConfig): ModelDescription {
  checkEngineLlama(s);
  const window = (s.windows ?? []).find((w) => w > 0 && w < cfg.seq);
  if (window !== undefined) throw new EstimateError(`framework vramlab: the engine's attention is global; seq ${cfg.seq} is over the model's sliding window of ${window}: lower --seq to ${window} or use --framework pytorch`);
  if (cfg.loraRank > s.hidden) throw new EstimateError(`framework vramlab: LoRA rank ${cfg.loraRank} is over the model's width ${s.hidden}; lower --lora-rank`);
  return llamaDescription(llamaShape(s), { batch: cfg.batch, seq: cfg.seq, amp: cfg.precision !== 'fp32', attention: cfg.attention, loraRank: cfg.loraRank, qlora: cfg.qlora });
}

/** The llama-family presets the engine runs (each scaled to the device before a run). */
export const LLAMA_RUN_MODELS = ['llama-3.2-1b', 'llama-3.2-3b', 'llama-3.1-8b', 'mistral-7b', 'qwen2.5-0.5b', 'qwen2.5-7b', 'llama-2-7b', 'llama-2-13b'] as const;

/** The step settings a Llama run takes besides the model's shape. */
export type LlamaRunStep = Omit<LlamaRunConfig, 'model' | 'vocab' | 'dModel' | 'heads' | 'kvHeads' | 'headDim' | 'layers' | 'inner' | 'tied' | 'qkvBias' | 'ropeTheta'>;

/**
 * A run of a llama-family spec (preset or config.json) at full size, refused with a sentence if
 * the engine cannot run it; the lab and the CLI scale it to the device (ui/scale.ts). The
 * rotary base does not change memory: 10000 (Llama 2's) unless given.
 */
export function llamaRunOf(s: TransformerSpec, step: LlamaRunStep, ropeTheta = 10000): LlamaRunConfig {
  checkEngineLlama(s);
  const sh = llamaShape(s);
  return { model: 'llama', vocab: sh.vocab, dModel: sh.d, heads: sh.heads, kvHeads: sh.kvHeads, headDim: sh.headDim, layers: sh.layers, inner: sh.inner, tied: sh.tied, qkvBias: sh.qkvBias, ropeTheta, ...step };
}
