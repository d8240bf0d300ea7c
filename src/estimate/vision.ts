/**
 * Vision transformers and vision-language models: ViT and CLIP/SigLIP vision towers (patch
 * embedding, class token, learned positions, pre-norm encoder layers) and VLMs built of a
 * tower, a projector and a language model (LLaVA-1.5: CLIP ViT-L/14-336 + a 2-layer MLP +
 * Llama; Qwen2-VL: its ViT with 2×2 patch merging + Qwen2). Images become tokens: a tower
 * attends over its patches (eager scores are O(P²) per image), and a VLM's language model
 * sees the image tokens in its sequence, after the text tokens (`seq`).
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { PlanTerm } from '../protocol/plan.ts';
import type { DtypePlan } from './dtypes.ts';
import { type EncoderShape, encoderLayerBytes, encoderLayerTensors, encoderWorkingSet } from './encoder.ts';
import { EstimateError } from './errors.ts';
import type { Inventory, ParamTensor } from './params.ts';
import { transformerUnits } from './pytorch.ts';
import type { Unit } from './schedule.ts';
import type { TransformerSpec } from './specs.ts';

export interface VitSpec {
  kind: 'vit';
  id: string;
  name: string;
  /** vit: ViT (class token, patch bias); clip: CLIP (class token, pre-LN, no patch bias); siglip: no class token, attention-pooling head; qwen2-vl: rotary, 3D patches, no class token. */
  flavour: 'vit' | 'clip' | 'siglip' | 'qwen2-vl';
  /** The resolution the position table was trained at. */
  imageSize: number;
  patchSize: number;
  /** Frames per patch (Qwen2-VL: 2, a still image is repeated). */
  temporalPatch: number;
  layers: number;
  encoder: EncoderShape;
  classToken: boolean;
  patchBias: boolean;
  /** CLIP's pre_layrnorm on the embeddings. */
  preNorm: boolean;
  /** The final LayerNorm: over all tokens (ViT, SigLIP), the pooled token only (CLIP), none (Qwen2-VL, its merger has one). */
  postNorm: 'all' | 'pooled' | 'none';
  /** ViT's classifier, CLIP's visual projection, SigLIP's attention-pooling head, a ViTModel pooler, or nothing. */
  head: { kind: 'classifier'; classes: number } | { kind: 'projection'; dim: number } | { kind: 'pooling-head' } | { kind: 'pooler' } | { kind: 'none' };
}

export interface VlmSpec {
  kind: 'vlm';
  id: string;
  name: string;
  vision: VitSpec;
  /** mlp2: Linear → GELU → Linear on each patch (LLaVA-1.5); merger: LayerNorm, 2×2 patches concatenated, Linear → GELU → Linear (Qwen2-VL). */
  projector: { kind: 'mlp2'; hidden: number } | { kind: 'merger'; merge: number };
  lm: TransformerSpec;
  /** Qwen2-VL's default pixel budget per image (preprocessor max_pixels). */
  maxPixels: number;
}

const INPUT_CHANNELS = 3;
/** Qwen2-VL's image processor: min_pixels 56·56 and max_pixels 28·28·16384 (preprocessor_config.json). */
export const QWEN2VL_MIN_PIXELS = 56 * 56;
export const QWEN2VL_MAX_PIXELS = 12845056;

/** Python's round(): halves to even. */
const roundHalfEven = (x: number) => {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
};

/** Qwen2-VL's smart_resize: both sides multiples of `factor`, pixels within [min, max]. */
export function smartResize(height: number, width: number, factor: number, minPixels: number, maxPixels: number): [number, number] {
  let h = Math.max(factor, roundHalfEven(height / factor) * factor);
  let w = Math.max(factor, roundHalfEven(width / factor) * factor);
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return [h, w];
}

/** Tokens one image makes: in the tower (patches, + class token) and, for a VLM, in the language model. */
export function imageTokens(spec: VitSpec | VlmSpec, cfg: PlanConfig): { tower: number; lm: number; side: string } {
  const v = spec.kind === 'vlm' ? spec.vision : spec;
  const S = cfg.imageSize;
  if (S < v.patchSize) throw new EstimateError(`image size ${S} is smaller than ${spec.name}'s ${v.patchSize}-pixel patches; use --image-size ${v.imageSize}`);
  if (spec.kind === 'vlm' && spec.projector.kind === 'merger') {
    const factor = v.patchSize * spec.projector.merge;
    const [h, w] = smartResize(S, S, factor, QWEN2VL_MIN_PIXELS, cfg.maxPixels ?? spec.maxPixels);
    const patches = (h / v.patchSize) * (w / v.patchSize);
    return { tower: patches, lm: patches / spec.projector.merge ** 2, side: `${h}×${w}` };
  }
  const side = Math.floor(S / v.patchSize);
  const patches = side * side;
  // LLaVA's 'default' feature selection drops the class token.
  return { tower: patches + (v.classToken ? 1 : 0), lm: patches, side: `${S}×${S}` };
}

function towerTensors(v: VitSpec, blockOf: (b: number) => number, lora: boolean): ParamTensor[] {
  const h = v.encoder.hidden;
  const t: ParamTensor[] = [];
  const emb = blockOf(-1);
  const vec = (name: string, n: number, block: number) => t.push({ name, rows: 1, cols: n, block, matmul: false, loraTarget: false });
  t.push({ name: 'vision.patch_embed', rows: h, cols: INPUT_CHANNELS * v.temporalPatch * v.patchSize ** 2, block: emb, matmul: true, loraTarget: false });
  if (v.patchBias) vec('vision.patch_embed.bias', h, emb);
  if (v.classToken) vec('vision.class_token', h, emb);
  if (v.flavour !== 'qwen2-vl') {
    const side = Math.floor(v.imageSize / v.patchSize);
    t.push({ name: 'vision.position_embedding', rows: side * side + (v.classToken ? 1 : 0), cols: h, block: emb, matmul: false, loraTarget: false });
  }
  if (v.preNorm) vec('vision.pre_layernorm', 2 * h, emb);
  for (let l = 0; l < v.layers; l++) t.push(...encoderLayerTensors(v.encoder, `vision.layers.${l}`, blockOf(l), lora));
  const last = blockOf(v.layers);
  if (v.postNorm !== 'none') vec('vision.post_layernorm', 2 * h, last);
  const head = v.head;
  if (head.kind === 'classifier') {
    t.push({ name: 'classifier', rows: h, cols: head.classes, block: last, matmul: true, loraTarget: false });
    vec('classifier.bias', head.classes, last);
  } else if (head.kind === 'projection') {
    t.push({ name: 'visual_projection', rows: h, cols: head.dim, block: last, matmul: true, loraTarget: false });
  } else if (head.kind === 'pooler') {
    t.push({ name: 'pooler.dense', rows: h, cols: h, block: last, matmul: true, loraTarget: false });
    vec('pooler.dense.bias', h, last);
  } else if (head.kind === 'pooling-head') {
    // SiglipMultiheadAttentionPoolingHead: a probe, nn.MultiheadAttention, LayerNorm, MLP.
    const I = v.encoder.intermediate;
    vec('head.probe', h, last);
    t.push({ name: 'head.attention.in_proj', rows: h, cols: 3 * h, block: last, matmul: true, loraTarget: false });
    vec('head.attention.in_proj.bias', 3 * h, last);
    t.push({ name: 'head.attention.out_proj', rows: h, cols: h, block: last, matmul: true, loraTarget: false });
    vec('head.attention.out_proj.bias', h, last);
    vec('head.layernorm', 2 * h, last);
    t.push({ name: 'head.mlp.fc1', rows: h, cols: I, block: last, matmul: true, loraTarget: false });
    vec('head.mlp.fc1.bias', I, last);
    t.push({ name: 'head.mlp.fc2', rows: I, cols: h, block: last, matmul: true, loraTarget: false });
    vec('head.mlp.fc2.bias', h, last);
  }
  return t;
}

export function vitInventory(v: VitSpec): Inventory {
  return { tensors: towerTensors(v, (b) => b, true), bufferBytes: 0, tiedHeadElems: 0 };
}

/** Where the language model's blocks sit in a VLM's numbering: after the tower (−1…Lv−1) and the projector (Lv). */
const lmBlock = (s: VlmSpec, b: number) => b + s.vision.layers + 2;

export function vlmInventory(s: VlmSpec, lmInventory: (lm: TransformerSpec) => Inventory): Inventory {
  const Lv = s.vision.layers;
  // LoRA adapts the language model only (LLaVA's and Qwen2-VL's recipes freeze the tower).
  const t = towerTensors(s.vision, (b) => (b >= Lv ? Lv : b), false);
  const vh = s.vision.encoder.hidden;
  const out = s.lm.hidden;
  const mat = (name: string, rows: number, cols: number) => t.push({ name, rows, cols, block: Lv, matmul: true, loraTarget: false });
  const vec = (name: string, n: number) => t.push({ name, rows: 1, cols: n, block: Lv, matmul: false, loraTarget: false });
  if (s.projector.kind === 'mlp2') {
    mat('projector.linear_1', vh, s.projector.hidden);
    vec('projector.linear_1.bias', s.projector.hidden);
    mat('projector.linear_2', s.projector.hidden, out);
    vec('projector.linear_2.bias', out);
  } else {
    const wide = vh * s.projector.merge ** 2;
    vec('merger.ln_q', 2 * vh);
    mat('merger.mlp.0', wide, wide);
    vec('merger.mlp.0.bias', wide);
    mat('merger.mlp.2', wide, out);
    vec('merger.mlp.2.bias', out);
  }
  const lm = lmInventory(s.lm);
  for (const x of lm.tensors) t.push({ ...x, name: `language_model.${x.name}`, block: lmBlock(s, x.block) });
  return { tensors: t, bufferBytes: lm.bufferBytes, tiedHeadElems: lm.tiedHeadElems };
}

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

type PerBlock = (block: number) => number;

/** The tower's units for `images` images of `P` tokens each (tokens = images·P). */
function towerUnits(v: VitSpec, cfg: PlanConfig, dt: DtypePlan, images: number, P: number, grads: PerBlock, casts: PerBlock, blockOf: (b: number) => number): Unit[] {
  const c = dt.compute;
  const r = dt.residual;
  const e = v.encoder;
  const h = e.hidden;
  const eager = cfg.attention === 'eager';
  const tokens = images * P;
  const lb = encoderLayerBytes(e, dt, eager);
  const pixels = INPUT_CHANNELS * v.temporalPatch * v.patchSize ** 2;
  const units: Unit[] = [];
  // The patch conv keeps its input (a 16-bit cast of the fp32 pixels under autocast); CLIP's
  // pre-LayerNorm keeps the embeddings.
  units.push(
    unit({
      name: 'vision: patch embedding',
      saved: (dt.autocast ? tokens * c * pixels : 0) + (v.preNorm ? tokens * (r * h + 8) : 0),
      fwdTransient: tokens * (c * h + r * h),
      bwdTransient: tokens * 2 * r * h,
      gradBytes: grads(blockOf(-1)),
      castBytes: casts(blockOf(-1)),
    }),
  );
  const q = e.heads * e.headDim;
  for (let l = 0; l < v.layers; l++) {
    const scores = tokens * P * lb.scoresPerKey;
    const mlpBwd = tokens * (2 * r * h + 3 * c * e.intermediate);
    const attnBwd = tokens * (2 * r * h + 3 * c * q + 4 * q) + (eager ? tokens * P * e.heads * (c + 8) : 0);
    units.push(
      unit({
        name: `vision layer ${l}`,
        saved: tokens * (lb.attention + lb.mlp) + scores,
        selective: scores,
        checkpointInput: tokens * lb.input,
        // Eager: the raw scores and their scaled copy before softmax keeps one.
        fwdTransient: tokens * (r * h + c * e.intermediate) + (eager ? 2 * c * tokens * P * e.heads : 0),
        bwdTransient: Math.max(mlpBwd, attnBwd),
        gradBytes: grads(blockOf(l)),
        castBytes: casts(blockOf(l)),
        recomputable: true,
      }),
    );
  }
  return units;
}

/** Inputs held for the step: fp32 pixels (and int64 labels or token ids with labels). */
export function visionInputs(spec: VitSpec | VlmSpec, cfg: PlanConfig, b: number): number {
  const v = spec.kind === 'vlm' ? spec.vision : spec;
  const tk = imageTokens(spec, cfg);
  const pixels = INPUT_CHANNELS * v.temporalPatch * v.patchSize ** 2 * (tk.tower - (v.classToken ? 1 : 0));
  if (spec.kind === 'vit') return b * (pixels * 4 + 8);
  return b * (images(cfg) * pixels * 4 + lmSeq(spec, cfg) * 8 * 2);
}

const images = (cfg: PlanConfig) => cfg.images ?? 1;

/** The language model's sequence: the text tokens (`seq`) and every image's tokens. */
export function lmSeq(s: VlmSpec, cfg: PlanConfig): number {
  return cfg.seq + images(cfg) * imageTokens(s, cfg).lm;
}

export function vitUnits(v: VitSpec, cfg: PlanConfig, dt: DtypePlan, grads: PerBlock, casts: PerBlock): Unit[] {
  const b = cfg.microBatch ?? cfg.batch;
  const P = imageTokens(v, cfg).tower;
  const units = towerUnits(v, cfg, dt, b, P, grads, casts, (x) => x);
  const c = dt.compute;
  const r = dt.residual;
  const h = v.encoder.hidden;
  const normed = v.postNorm === 'all' ? b * P : v.postNorm === 'pooled' ? b : 0;
  const outDim = v.head.kind === 'classifier' ? v.head.classes : v.head.kind === 'projection' ? v.head.dim : h;
  units.push(
    unit({
      name: 'final norm, head and loss',
      category: 'logits',
      saved: normed * (r * h + 8) + b * (c * h + 2 * 4 * outDim),
      fwdTransient: b * c * outDim,
      bwdTransient: normed * 2 * r * h,
      gradBytes: grads(v.layers),
      castBytes: casts(v.layers),
    }),
  );
  return units;
}

export function vlmUnits(s: VlmSpec, cfg: PlanConfig, dt: DtypePlan, grads: PerBlock, casts: PerBlock): Unit[] {
  const b = cfg.microBatch ?? cfg.batch;
  const n = b * images(cfg);
  const tk = imageTokens(s, cfg);
  const Lv = s.vision.layers;
  const units = towerUnits(s.vision, cfg, dt, n, tk.tower, grads, casts, (x) => x);
  const c = dt.compute;
  const r = dt.residual;
  const vh = s.vision.encoder.hidden;
  const imageTok = n * tk.lm;
  let saved: number;
  if (s.projector.kind === 'mlp2') {
    // linear_1 keeps its input's cast, GELU its input, linear_2 GELU's output.
    saved = imageTok * (c * vh + 2 * c * s.projector.hidden);
  } else {
    // ln_q keeps its input and statistics per patch; per merged token the cast of the
    // concatenated patches, GELU's input and linear 2's input.
    const wide = vh * s.projector.merge ** 2;
    saved = n * tk.tower * (r * vh + 8) + imageTok * 3 * c * wide;
  }
  units.push(
    unit({
      name: 'projector',
      saved,
      fwdTransient: imageTok * c * s.lm.hidden,
      bwdTransient: imageTok * 2 * c * s.lm.hidden,
      gradBytes: grads(Lv),
      castBytes: casts(Lv),
    }),
  );
  const seq = lmSeq(s, cfg);
  const lm = transformerUnits(s.lm, { ...cfg, seq }, dt, (x) => grads(lmBlock(s, x)), (x) => casts(lmBlock(s, x)));
  return [...units, ...lm.map((u) => ({ ...u, name: `LM ${u.name}` }))];
}

/** Terms that name the tokens images make and what eager attention over them costs. */
export function visionTrainTerms(spec: VitSpec | VlmSpec, cfg: PlanConfig, dt: DtypePlan): PlanTerm[] {
  const v = spec.kind === 'vlm' ? spec.vision : spec;
  const b = cfg.microBatch ?? cfg.batch;
  const n = spec.kind === 'vlm' ? b * images(cfg) : b;
  const tk = imageTokens(spec, cfg);
  const terms: PlanTerm[] = [];
  const lb = encoderLayerBytes(v.encoder, dt, cfg.attention === 'eager');
  terms.push({
    category: 'activations',
    label: 'vision tower activations, all layers',
    bytes: v.layers * n * tk.tower * (lb.attention + lb.mlp),
    formula: `${v.layers} layers × ${n} images × ${tk.tower} tokens (${tk.side} px / ${v.patchSize}-px patches${v.classToken ? ' + class token' : ''}) × ${Math.round(lb.attention + lb.mlp)} B`,
    source: 'Dosovitskiy et al. 2020 (ViT), arXiv 2010.11929; PyTorch SDPA',
  });
  if (lb.scoresPerKey > 0) {
    terms.push({
      category: 'activations',
      label: 'vision attention scores (eager, P²)',
      bytes: v.layers * n * tk.tower * tk.tower * lb.scoresPerKey,
      formula: `${v.layers} layers × ${n} images × ${v.encoder.heads} heads × ${tk.tower}² × ${lb.scoresPerKey / v.encoder.heads} B`,
      source: 'Korthikanti et al. 2022, arXiv 2205.05198 (the 5as² term)',
    });
  }
  if (spec.kind === 'vlm') {
    terms.push({
      category: 'activations',
      label: 'image tokens in the language model',
      bytes: 0,
      formula: `LM sequence = ${cfg.seq} text + ${images(cfg)} × ${tk.lm} image tokens = ${lmSeq(spec, cfg)} tokens per sample`,
      source: spec.projector.kind === 'merger' ? 'Qwen2-VL (arXiv 2409.12191): 2×2 patches merged into one token; smart_resize to the pixel budget' : 'LLaVA-1.5 (arXiv 2310.03744): one token per 14-px patch, class token dropped',
    });
  }
  return terms;
}

/** Inference: the largest working set of one layer, the tower's or the language model's, and the LM's KV cache. */
export function visionInference(spec: VitSpec | VlmSpec, cfg: PlanConfig, dt: DtypePlan): { transient: number; at: string; kvCache: number; terms: PlanTerm[] } {
  const eager = cfg.attention === 'eager';
  const b = cfg.batch;
  const c = dt.compute;
  const v = spec.kind === 'vlm' ? spec.vision : spec;
  const tk = imageTokens(spec, cfg);
  const n = spec.kind === 'vlm' ? b * images(cfg) : b;
  const tower = encoderWorkingSet(v.encoder, dt, eager, n * tk.tower, tk.tower);
  const terms: PlanTerm[] = [
    {
      category: 'activations',
      label: 'vision tower working set (one layer)',
      bytes: tower,
      formula: `${n} images × ${tk.tower} tokens × (2 residual + q/k/v/out + MLP hidden)${eager ? ` + ${v.encoder.heads} heads × ${tk.tower}² scores and softmax` : ''}`,
      source: 'PyTorch SDPA; Dosovitskiy et al. 2020',
    },
  ];
  if (spec.kind === 'vit') return { transient: tower, at: 'vision layer', kvCache: 0, terms };
  const s = spec.lm;
  const seq = lmSeq(spec, cfg);
  const kvCache = 2 * s.layers * s.kvHeads * s.headDim * seq * b * c;
  // Prefill as inferencePlan counts it for a decoder: one layer's working set at a time.
  const tok = b * seq;
  const layer = tok * (2 * dt.residual * s.hidden + c * (s.heads + 2 * s.kvHeads) * s.headDim + 3 * c * s.intermediate);
  const scores = eager ? b * s.heads * seq * seq * (c + (dt.autocast ? 4 : c)) : 0;
  const imageFeatures = n * tk.lm * c * s.hidden;
  const prefill = layer + scores + imageFeatures;
  terms.push(
    { category: 'kvCache', label: 'KV cache (text and image tokens)', bytes: kvCache, formula: `2 × ${s.layers} layers × ${s.kvHeads} kv heads × ${s.headDim} × ${seq} tokens × ${b} × ${c} B`, source: 'KV cache: 2 · layers · kv_heads · head_dim · context · batch · bytes' },
    { category: 'activations', label: 'LM prefill working set (one layer)', bytes: prefill, formula: `b·s × (2 residual + q/k/v + 3 × MLP hidden), s = ${seq}; + the image features`, source: 'PyTorch SDPA' },
  );
  return prefill >= tower ? { transient: prefill, at: 'LM prefill of one layer', kvCache, terms } : { transient: tower, at: 'vision layer', kvCache, terms };
}

/** FLOPs of one forward: 2 per weight per token, and attention's QKᵀ and AV (4·P·d per token). */
export function visionForwardFlops(spec: VitSpec | VlmSpec, cfg: PlanConfig, inv: Inventory): { body: number; attentionCore: number; other: number } {
  const v = spec.kind === 'vlm' ? spec.vision : spec;
  const tk = imageTokens(spec, cfg);
  const n = spec.kind === 'vlm' ? cfg.batch * images(cfg) : cfg.batch;
  const Lv = v.layers;
  const seq = spec.kind === 'vlm' ? lmSeq(spec, cfg) : 0;
  const tok = cfg.batch * seq;
  let body = 0;
  let other = 0;
  for (const t of inv.tensors) {
    if (!t.matmul) continue;
    const w = t.rows * t.cols;
    if (t.block >= 0 && t.block < Lv) body += 2 * n * tk.tower * w;
    else if (spec.kind === 'vlm' && t.block >= lmBlock(spec, 0) && t.block < lmBlock(spec, spec.lm.layers)) body += 2 * tok * w;
    else if (t.name.startsWith('vision.patch')) other += 2 * n * tk.tower * w;
    else if (spec.kind === 'vlm' && t.block === Lv) other += 2 * n * tk.lm * w;
    else if (spec.kind === 'vlm' && t.block >= lmBlock(spec, spec.lm.layers)) other += 2 * tok * w;
    else other += 2 * n * w;
  }
  const q = v.encoder.heads * v.encoder.headDim;
  let attentionCore = Lv * n * tk.tower * 4 * tk.tower * q;
  if (spec.kind === 'vlm') attentionCore += spec.lm.layers * tok * 4 * seq * spec.lm.heads * spec.lm.headDim;
  return { body: body + attentionCore, attentionCore, other };
}

const encoder = (hidden: number, heads: number, intermediate: number, act: EncoderShape['act'], fusedQkv = false): EncoderShape => ({
  hidden,
  heads,
  headDim: hidden / heads,
  intermediate,
  act,
  norm: 'layernorm',
  fusedQkv,
  bias: true,
});

type VitPreset = Omit<VitSpec, 'kind' | 'id'>;

export const VIT_PRESETS: Record<string, VitPreset> = {
  // google/vit-base-patch16-224 (ViTForImageClassification, ImageNet-1k head).
  'vit-base-16': {
    name: 'ViT-B/16 (86.6M)',
    flavour: 'vit',
    imageSize: 224,
    patchSize: 16,
    temporalPatch: 1,
    layers: 12,
    encoder: encoder(768, 12, 3072, 'gelu'),
    classToken: true,
    patchBias: true,
    preNorm: false,
    postNorm: 'all',
    head: { kind: 'classifier', classes: 1000 },
  },
  // openai/clip-vit-large-patch14 vision tower (CLIPVisionModel).
  'clip-vit-l-14': {
    name: 'CLIP ViT-L/14 vision (304M)',
    flavour: 'clip',
    imageSize: 224,
    patchSize: 14,
    temporalPatch: 1,
    layers: 24,
    encoder: encoder(1024, 16, 4096, 'quick-gelu'),
    classToken: true,
    patchBias: false,
    preNorm: true,
    postNorm: 'pooled',
    head: { kind: 'none' },
  },
};

const CLIP_L_336: VitSpec = { kind: 'vit', id: 'clip-vit-l-14-336', ...VIT_PRESETS['clip-vit-l-14']!, name: 'CLIP ViT-L/14-336 vision', imageSize: 336 };

const QWEN2VL_VISION: VitSpec = {
  kind: 'vit',
  id: 'qwen2-vl-vision',
  name: 'Qwen2-VL ViT (675M)',
  flavour: 'qwen2-vl',
  imageSize: 448,
  patchSize: 14,
  temporalPatch: 2,
  layers: 32,
  encoder: encoder(1280, 16, 5120, 'quick-gelu', true),
  classToken: false,
  patchBias: false,
  preNorm: false,
  postNorm: 'none',
  head: { kind: 'none' },
};

const llamaLm = (name: string, s: { vocab: number; hidden: number; layers: number; heads: number; kvHeads: number; intermediate: number; qkvBias: boolean }): TransformerSpec => ({
  kind: 'transformer',
  id: 'lm',
  name,
  family: 'llama',
  head: 'causal-lm',
  vocab: s.vocab,
  hidden: s.hidden,
  layers: s.layers,
  heads: s.heads,
  kvHeads: s.kvHeads,
  headDim: s.hidden / s.heads,
  intermediate: s.intermediate,
  maxPositions: 0,
  typeVocab: 0,
  tiedEmbeddings: false,
  qkvBias: s.qkvBias,
  attnOutBias: false,
  linearBias: false,
  normsPerLayer: 2,
  norm: 'rmsnorm',
  act: 'silu',
  dropout: false,
  pooler: false,
});

type VlmPreset = Omit<VlmSpec, 'kind' | 'id'>;

export const VLM_PRESETS: Record<string, VlmPreset> = {
  // llava-hf/llava-1.5-7b-hf: CLIP ViT-L/14-336, MLP projector, Vicuna-7B (Llama 2, vocab 32064).
  'llava-1.5-7b': {
    name: 'LLaVA-1.5 7B',
    vision: CLIP_L_336,
    projector: { kind: 'mlp2', hidden: 4096 },
    lm: llamaLm('Vicuna 7B', { vocab: 32064, hidden: 4096, layers: 32, heads: 32, kvHeads: 32, intermediate: 11008, qkvBias: false }),
    maxPixels: QWEN2VL_MAX_PIXELS,
  },
  // Qwen/Qwen2-VL-7B-Instruct: its 675M ViT with 2×2 merging, Qwen2-7B.
  'qwen2-vl-7b': {
    name: 'Qwen2-VL 7B',
    vision: QWEN2VL_VISION,
    projector: { kind: 'merger', merge: 2 },
    lm: llamaLm('Qwen2 7B', { vocab: 152064, hidden: 3584, layers: 28, heads: 28, kvHeads: 4, intermediate: 18944, qkvBias: true }),
    maxPixels: QWEN2VL_MAX_PIXELS,
  },
};
