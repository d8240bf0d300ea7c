/**
 * The components of a diffusion pipeline as Diffusers builds them, block by block: CLIP and
 * T5 text encoders, UNet2DConditionModel (ResNet blocks, Transformer2DModel with self- and
 * cross-attention at each resolution, down/upsamplers, skip connections), Flux's DiT
 * (double-stream and single-stream blocks over image and text tokens) and AutoencoderKL's
 * encoder and decoder. Each block carries its parameter tensors and, per sample at the
 * configured resolution, what autograd keeps (training), the working set of an inference
 * forward, and the skip tensors it leaves for the up path.
 */
import type { DtypePlan } from './dtypes.ts';
import { type EncoderShape, encoderLayerBytes, encoderLayerTensors, encoderWorkingSet } from './encoder.ts';
import type { ParamTensor } from './params.ts';

/** One block of a component. Bytes are per sample. */
export interface Block {
  name: string;
  tensors: ParamTensor[];
  /** Saved for backward (training). */
  saved: number;
  /** Part of `saved` that is eager attention's N² scores. */
  scores: number;
  /** Alive at the worst moment of its inference forward, beyond its input. */
  work: number;
  /** Its input: what a checkpoint at its boundary keeps. */
  input: number;
  /** Activation gradients alive in its backward. */
  bwd: number;
  /** Bytes it pushes onto (+) or pops from (−) the UNet's skip stack. */
  skip: number;
  /** A ResNet or transformer block that diffusers' gradient checkpointing recomputes. */
  recomputable: boolean;
  /** Forward FLOPs per sample. */
  flops: number;
}

type Tensors = ParamTensor[];
const mat = (t: Tensors, name: string, rows: number, cols: number, lora = false) => t.push({ name, rows, cols, block: 0, matmul: true, loraTarget: lora });
const vec = (t: Tensors, name: string, n: number) => t.push({ name, rows: 1, cols: n, block: 0, matmul: false, loraTarget: false });
const linear = (t: Tensors, name: string, i: number, o: number, bias = true, lora = false) => {
  mat(t, name, i, o, lora);
  if (bias) vec(t, `${name}.bias`, o);
};
const conv = (t: Tensors, name: string, i: number, o: number, k: number) => {
  mat(t, name, o, i * k * k);
  vec(t, `${name}.bias`, o);
};
const norm = (t: Tensors, name: string, c: number) => vec(t, name, 2 * c);
const weights = (t: Tensors) => t.reduce((a, x) => a + (x.matmul ? x.rows * x.cols : 0), 0);

const block = (b: Partial<Block> & Pick<Block, 'name' | 'tensors'>): Block => ({ saved: 0, scores: 0, work: 0, input: 0, bwd: 0, skip: 0, recomputable: false, flops: 0, ...b });

export interface Ctx {
  dt: DtypePlan;
  eager: boolean;
}

/** GroupNorm → SiLU → conv on C channels: what autograd keeps per element (GroupNorm runs in fp32 under autocast). */
const normActConv = (x: Ctx, C: number) => (x.dt.autocast ? 4 + 4 + x.dt.compute : 3 * x.dt.compute) * C;

/** Diffusers ResnetBlock2D (temb: the time embedding width, 0 in the VAE). */
export function resnet(x: Ctx, name: string, inC: number, outC: number, N: number, temb: number): Block {
  const t: Tensors = [];
  const c = x.dt.compute;
  norm(t, `${name}.norm1`, inC);
  conv(t, `${name}.conv1`, inC, outC, 3);
  if (temb > 0) linear(t, `${name}.time_emb_proj`, temb, outC);
  norm(t, `${name}.norm2`, outC);
  conv(t, `${name}.conv2`, outC, outC, 3);
  const shortcut = inC !== outC;
  if (shortcut) conv(t, `${name}.conv_shortcut`, inC, outC, 1);
  const big = Math.max(inC, outC);
  return block({
    name,
    tensors: t,
    saved: N * (normActConv(x, inC) + normActConv(x, outC) + (shortcut ? c * inC : 0)),
    work: c * N * (2 * big + outC),
    input: c * inC * N,
    bwd: 3 * c * big * N,
    recomputable: true,
    flops: 2 * N * weights(t),
  });
}

export interface AttnShape {
  /** Channels (= the transformer's inner width). */
  C: number;
  heads: number;
  /** Image tokens per sample. */
  N: number;
  /** Text tokens and width (cross-attention); 0 for none. */
  T: number;
  Dc: number;
}

/** Per sample, one attention: q/k/v and output as SDPA keeps them, the output projection's input, scores (eager) or row statistics. */
function attentionSaved(x: Ctx, s: AttnShape, cross: boolean): { saved: number; scores: number } {
  const c = x.dt.compute;
  const keys = cross ? s.T : s.N;
  const kv = cross ? 2 * c * s.C * s.T + (x.dt.autocast ? 2 * c * s.Dc * s.T : 0) : 2 * c * s.C * s.N;
  const scores = x.eager ? s.heads * s.N * keys * (x.dt.autocast ? 4 + c : c) : 0;
  return { saved: c * s.C * s.N * 3 /* q, out, merged */ + kv + (x.eager ? 0 : 4 * s.heads * s.N) + scores, scores };
}

/** A LayerNorm feeding `consumers` projections: its input (an fp32 copy under autocast), statistics, its output or one cast per consumer. */
const lnFeeding = (x: Ctx, C: number, consumers: number) => (x.dt.autocast ? 4 * C + 8 + consumers * x.dt.compute * C : 2 * x.dt.compute * C + 8);

/** Diffusers Transformer2DModel: GroupNorm, proj_in, `layers` BasicTransformerBlocks (self-attention, cross-attention, GEGLU), proj_out. */
export function transformer2d(x: Ctx, name: string, s: AttnShape, layers: number, linearProj: boolean): Block {
  const t: Tensors = [];
  const { C, N } = s;
  const c = x.dt.compute;
  norm(t, `${name}.norm`, C);
  if (linearProj) linear(t, `${name}.proj_in`, C, C);
  else conv(t, `${name}.proj_in`, C, C, 1);
  let saved = N * ((x.dt.autocast ? 4 : c) * C + c * C);
  let scores = 0;
  for (let l = 0; l < layers; l++) {
    const p = `${name}.blocks.${l}`;
    norm(t, `${p}.norm1`, C);
    for (const q of ['to_q', 'to_k', 'to_v']) linear(t, `${p}.attn1.${q}`, C, C, false, true);
    linear(t, `${p}.attn1.to_out`, C, C, true, true);
    norm(t, `${p}.norm2`, C);
    linear(t, `${p}.attn2.to_q`, C, C, false, true);
    linear(t, `${p}.attn2.to_k`, s.Dc, C, false, true);
    linear(t, `${p}.attn2.to_v`, s.Dc, C, false, true);
    linear(t, `${p}.attn2.to_out`, C, C, true, true);
    norm(t, `${p}.norm3`, C);
    linear(t, `${p}.ff.proj`, C, 8 * C);
    linear(t, `${p}.ff.out`, 4 * C, C);
    const self = attentionSaved(x, s, false);
    const cross = attentionSaved(x, s, true);
    // GEGLU keeps its projection (hidden and gate halves), GELU(gate) and the product.
    saved += N * (lnFeeding(x, C, 3) + lnFeeding(x, C, 1) + lnFeeding(x, C, 1) + 16 * c * C) + self.saved + cross.saved;
    scores += self.scores + cross.scores;
  }
  if (linearProj) linear(t, `${name}.proj_out`, C, C);
  else conv(t, `${name}.proj_out`, C, C, 1);
  saved += N * c * C;
  const eagerWork = x.eager ? s.heads * N * N * 2 * c : 0;
  const core = layers * 4 * N * (N + s.T) * C;
  return block({
    name,
    tensors: t,
    saved,
    scores,
    // Attention: residual, normed, q/k/v and out (+ N² scores and softmax); GEGLU: 8C + 4C + 4C.
    work: Math.max(c * N * 6 * C + eagerWork, c * N * 18 * C),
    input: c * C * N,
    bwd: c * N * 12 * C + (x.eager ? s.heads * N * N * 2 * c : 0),
    recomputable: true,
    flops: 2 * N * (weights(t) - layers * 2 * s.Dc * C) + layers * 2 * 2 * s.T * s.Dc * C + core,
  });
}

const side2 = (n: number) => Math.ceil(n / 2);

export interface UnetShape {
  inChannels: number;
  blockOut: readonly number[];
  layersPerBlock: number;
  /** Per down block: a CrossAttn block (true) or a plain DownBlock2D. Up blocks mirror it. */
  crossAttn: readonly boolean[];
  transformerLayers: readonly number[];
  /** attention_head_dim as Diffusers reads it for these UNets: the number of heads per block. */
  heads: readonly number[];
  crossDim: number;
  linearProj: boolean;
  /** SDXL's text_time add embedding: its input width (projection_class_embeddings_input_dim); 0 for none. */
  addEmbedIn: number;
}

/** UNet2DConditionModel at a latent of side h × w, with T text tokens. */
export function unetBlocks(x: Ctx, u: UnetShape, h: number, w: number, T: number): Block[] {
  const c = x.dt.compute;
  const c0 = u.blockOut[0]!;
  const temb = 4 * c0;
  const out: Block[] = [];
  const stem: Tensors = [];
  conv(stem, 'conv_in', u.inChannels, c0, 3);
  linear(stem, 'time_embedding.linear_1', c0, temb);
  linear(stem, 'time_embedding.linear_2', temb, temb);
  if (u.addEmbedIn > 0) {
    linear(stem, 'add_embedding.linear_1', u.addEmbedIn, temb);
    linear(stem, 'add_embedding.linear_2', temb, temb);
  }
  let H = h;
  let W = w;
  let N = H * W;
  out.push(block({ name: 'conv_in and time embedding', tensors: stem, saved: N * c * u.inChannels, work: N * c * (u.inChannels + c0), input: N * c * u.inChannels, bwd: 2 * N * c * c0, skip: N * c * c0, flops: 2 * N * u.inChannels * c0 * 9 }));
  const skips: number[] = [c0];
  let ch = c0;
  const n = u.blockOut.length;
  for (let i = 0; i < n; i++) {
    const oc = u.blockOut[i]!;
    for (let j = 0; j < u.layersPerBlock; j++) {
      const r = resnet(x, `down.${i}.resnets.${j}`, j === 0 ? ch : oc, oc, N, temb);
      const blocks = [r];
      if (u.crossAttn[i]) blocks.push(transformer2d(x, `down.${i}.attentions.${j}`, { C: oc, heads: u.heads[i]!, N, T, Dc: u.crossDim }, u.transformerLayers[i]!, u.linearProj));
      blocks.at(-1)!.skip = N * c * oc;
      out.push(...blocks);
      skips.push(oc);
    }
    ch = oc;
    if (i < n - 1) {
      const d: Tensors = [];
      conv(d, `down.${i}.downsample`, oc, oc, 3);
      const inN = N;
      H = side2(H);
      W = side2(W);
      N = H * W;
      out.push(block({ name: `down.${i}.downsample`, tensors: d, saved: inN * c * oc, work: N * c * oc, input: inN * c * oc, bwd: 2 * inN * c * oc, skip: N * c * oc, flops: 2 * N * weights(d) }));
      skips.push(oc);
    }
  }
  const last = u.blockOut[n - 1]!;
  const midHeads = u.heads[n - 1]!;
  out.push(resnet(x, 'mid.resnets.0', last, last, N, temb));
  out.push(transformer2d(x, 'mid.attentions.0', { C: last, heads: midHeads, N, T, Dc: u.crossDim }, u.transformerLayers[n - 1]!, u.linearProj));
  out.push(resnet(x, 'mid.resnets.1', last, last, N, temb));
  const rev = [...u.blockOut].reverse();
  const revCross = [...u.crossAttn].reverse();
  const revLayers = [...u.transformerLayers].reverse();
  const revHeads = [...u.heads].reverse();
  let prev = last;
  for (let i = 0; i < n; i++) {
    const oc = rev[i]!;
    for (let j = 0; j <= u.layersPerBlock; j++) {
      const skipC = skips.pop()!;
      const r = resnet(x, `up.${i}.resnets.${j}`, (j === 0 ? prev : oc) + skipC, oc, N, temb);
      r.skip = -N * c * skipC;
      out.push(r);
      if (revCross[i]) out.push(transformer2d(x, `up.${i}.attentions.${j}`, { C: oc, heads: revHeads[i]!, N, T, Dc: u.crossDim }, revLayers[i]!, u.linearProj));
    }
    prev = oc;
    if (i < n - 1) {
      const d: Tensors = [];
      conv(d, `up.${i}.upsample`, oc, oc, 3);
      H *= 2;
      W *= 2;
      N = H * W;
      out.push(block({ name: `up.${i}.upsample`, tensors: d, saved: N * c * oc, work: 2 * N * c * oc, input: (N / 4) * c * oc, bwd: 2 * N * c * oc, flops: 2 * N * weights(d) }));
    }
  }
  const tail: Tensors = [];
  norm(tail, 'conv_norm_out', c0);
  conv(tail, 'conv_out', c0, u.inChannels, 3);
  out.push(block({ name: 'conv_norm_out and conv_out', tensors: tail, saved: N * normActConv(x, c0), work: N * c * (2 * c0 + u.inChannels), input: N * c * c0, bwd: 3 * N * c * c0, flops: 2 * N * weights(tail) }));
  return out;
}

export interface FluxShape {
  inChannels: number;
  heads: number;
  headDim: number;
  double: number;
  single: number;
  jointDim: number;
  pooledDim: number;
  guidance: boolean;
}

/** One stream of a Flux block, per token: AdaLN (fp32 LayerNorm and modulation under autocast), q/k/v with RMS-normed q and k, SDPA, the gated MLP. */
function fluxStreamSaved(x: Ctx, d: number, heads: number): number {
  const c = x.dt.compute;
  const f = x.dt.autocast ? 4 : c;
  const ada = f * d + 8 + f * d; // LayerNorm input copy, its output kept by the modulation
  const qkv = (x.dt.autocast ? 3 : 1) * c * d + 2 * (f * d + c * d) /* q, k RMSNorm */ + 4 * c * d /* SDPA q, k, v, out */ + (x.eager ? 0 : 4 * heads);
  const mlp = ada + c * d /* cast */ + 2 * c * 4 * d /* GELU in, fc2 in */ + 2 * c * d; /* gated outputs */
  return ada + qkv + c * d /* out-proj input */ + mlp;
}

/** FluxTransformer2DModel over N image and T text tokens per sample. */
export function fluxBlocks(x: Ctx, s: FluxShape, N: number, T: number): Block[] {
  const c = x.dt.compute;
  const d = s.heads * s.headDim;
  const L = N + T;
  const eagerScores = x.eager ? s.heads * L * L * (x.dt.autocast ? 4 + c : c) : 0;
  const eagerWork = x.eager ? s.heads * L * L * 2 * c : 0;
  const out: Block[] = [];
  const emb: Tensors = [];
  linear(emb, 'x_embedder', s.inChannels, d);
  linear(emb, 'context_embedder', s.jointDim, d);
  const twoLayer = (name: string, i: number) => {
    linear(emb, `${name}.linear_1`, i, d);
    linear(emb, `${name}.linear_2`, d, d);
  };
  twoLayer('time_text_embed.timestep_embedder', 256);
  if (s.guidance) twoLayer('time_text_embed.guidance_embedder', 256);
  twoLayer('time_text_embed.text_embedder', s.pooledDim);
  out.push(block({ name: 'embedders', tensors: emb, saved: N * c * s.inChannels + T * c * s.jointDim, work: L * c * d, input: N * c * s.inChannels, bwd: 2 * L * c * d, flops: 2 * (N * s.inChannels * d + T * s.jointDim * d) }));
  for (let i = 0; i < s.double; i++) {
    const t: Tensors = [];
    const p = `transformer_blocks.${i}`;
    linear(t, `${p}.norm1.linear`, d, 6 * d);
    linear(t, `${p}.norm1_context.linear`, d, 6 * d);
    for (const q of ['to_q', 'to_k', 'to_v', 'add_q_proj', 'add_k_proj', 'add_v_proj', 'to_out', 'to_add_out']) linear(t, `${p}.attn.${q}`, d, d, true, true);
    for (const q of ['norm_q', 'norm_k', 'norm_added_q', 'norm_added_k']) vec(t, `${p}.attn.${q}`, s.headDim);
    for (const f of ['ff', 'ff_context']) {
      linear(t, `${p}.${f}.proj`, d, 4 * d);
      linear(t, `${p}.${f}.out`, 4 * d, d);
    }
    out.push(
      block({
        name: `double-stream block ${i}`,
        tensors: t,
        saved: L * fluxStreamSaved(x, d, s.heads) + eagerScores,
        scores: eagerScores,
        work: Math.max(L * c * 6 * d + eagerWork, L * c * 10 * d),
        input: L * c * d,
        bwd: L * c * 10 * d + eagerWork,
        recomputable: true,
        flops: 2 * L * (weights(t) / 2) + 4 * L * L * d,
      }),
    );
  }
  for (let i = 0; i < s.single; i++) {
    const t: Tensors = [];
    const p = `single_transformer_blocks.${i}`;
    linear(t, `${p}.norm.linear`, d, 3 * d);
    linear(t, `${p}.proj_mlp`, d, 4 * d);
    for (const q of ['to_q', 'to_k', 'to_v']) linear(t, `${p}.attn.${q}`, d, d, true, true);
    vec(t, `${p}.attn.norm_q`, s.headDim);
    vec(t, `${p}.attn.norm_k`, s.headDim);
    linear(t, `${p}.proj_out`, 5 * d, d);
    const f = x.dt.autocast ? 4 : c;
    // AdaLN, casts for proj_mlp and q/k/v, q/k norms, SDPA, GELU(tanh) in, proj_out's input (attention ‖ MLP), gated output.
    const perTok = f * d + 8 + f * d + (x.dt.autocast ? 4 : 1) * c * d + 2 * (f * d + c * d) + 4 * c * d + (x.eager ? 0 : 4 * s.heads) + c * 4 * d + c * 5 * d + c * d;
    out.push(
      block({
        name: `single-stream block ${i}`,
        tensors: t,
        saved: L * perTok + eagerScores,
        scores: eagerScores,
        work: Math.max(L * c * 6 * d + eagerWork, L * c * 11 * d),
        input: L * c * d,
        bwd: L * c * 10 * d + eagerWork,
        recomputable: true,
        flops: 2 * L * weights(t) + 4 * L * L * d,
      }),
    );
  }
  const tail: Tensors = [];
  linear(tail, 'norm_out.linear', d, 2 * d);
  linear(tail, 'proj_out', d, s.inChannels);
  out.push(block({ name: 'norm_out and proj_out', tensors: tail, saved: N * (8 + 2 * (x.dt.autocast ? 4 : c) * d), work: N * c * 2 * d, input: L * c * d, bwd: 2 * N * c * d, flops: 2 * N * d * s.inChannels }));
  return out;
}

export interface VaeShape {
  blockOut: readonly number[];
  layersPerBlock: number;
  latent: number;
  /** quant_conv and post_quant_conv (SD 1.x/XL: yes; Flux: no). */
  quantConv: boolean;
}

/** AutoencoderKL's mid block: ResNet, single-head attention over every latent pixel, ResNet. */
function vaeMid(x: Ctx, prefix: string, C: number, N: number): Block[] {
  const c = x.dt.compute;
  const t: Tensors = [];
  norm(t, `${prefix}.attention.group_norm`, C);
  for (const q of ['to_q', 'to_k', 'to_v', 'to_out']) linear(t, `${prefix}.attention.${q}`, C, C);
  const s = attentionSaved(x, { C, heads: 1, N, T: 0, Dc: 0 }, false);
  const attn = block({
    name: `${prefix}.attention`,
    tensors: t,
    saved: N * ((x.dt.autocast ? 4 : c) * C + 3 * c * C) + s.saved,
    scores: s.scores,
    work: c * N * 6 * C + (x.eager ? N * N * 2 * c : 0),
    input: c * C * N,
    bwd: c * N * 6 * C + (x.eager ? N * N * 2 * c : 0),
    recomputable: true,
    flops: 2 * N * weights(t) + 4 * N * N * C,
  });
  return [resnet(x, `${prefix}.resnets.0`, C, C, N, 0), attn, resnet(x, `${prefix}.resnets.1`, C, C, N, 0)];
}

/** The VAE encoder on an image of side h × w (training: encoding the batch to latents). */
export function vaeEncoderBlocks(x: Ctx, v: VaeShape, h: number, w: number): Block[] {
  const c = x.dt.compute;
  const out: Block[] = [];
  let H = h;
  let W = w;
  let N = H * W;
  const stem: Tensors = [];
  conv(stem, 'encoder.conv_in', 3, v.blockOut[0]!, 3);
  out.push(block({ name: 'encoder.conv_in', tensors: stem, saved: N * c * 3, work: N * c * (3 + v.blockOut[0]!), input: N * c * 3, flops: 2 * N * weights(stem) }));
  let ch = v.blockOut[0]!;
  v.blockOut.forEach((oc, i) => {
    for (let j = 0; j < v.layersPerBlock; j++) out.push(resnet(x, `encoder.down.${i}.resnets.${j}`, j === 0 ? ch : oc, oc, N, 0));
    ch = oc;
    if (i < v.blockOut.length - 1) {
      const d: Tensors = [];
      conv(d, `encoder.down.${i}.downsample`, oc, oc, 3);
      const inN = N;
      // Diffusers pads (0, 1, 0, 1) and convolves 3×3 with stride 2, no padding: ⌊side/2⌋.
      H = Math.floor(H / 2);
      W = Math.floor(W / 2);
      N = H * W;
      out.push(block({ name: `encoder.down.${i}.downsample`, tensors: d, saved: inN * c * oc, work: (inN + N) * c * oc, input: inN * c * oc, flops: 2 * N * weights(d) }));
    }
  });
  out.push(...vaeMid(x, 'encoder.mid', ch, N));
  const tail: Tensors = [];
  norm(tail, 'encoder.conv_norm_out', ch);
  conv(tail, 'encoder.conv_out', ch, 2 * v.latent, 3);
  if (v.quantConv) conv(tail, 'quant_conv', 2 * v.latent, 2 * v.latent, 1);
  out.push(block({ name: 'encoder.conv_out', tensors: tail, saved: N * normActConv(x, ch), work: N * c * (2 * ch + 2 * v.latent), input: N * c * ch, flops: 2 * N * weights(tail) }));
  return out;
}

/** The VAE decoder from a latent of side h × w to the image (8× per side). */
export function vaeDecoderBlocks(x: Ctx, v: VaeShape, h: number, w: number): Block[] {
  const c = x.dt.compute;
  const out: Block[] = [];
  let N = h * w;
  const rev = [...v.blockOut].reverse();
  const stem: Tensors = [];
  if (v.quantConv) conv(stem, 'post_quant_conv', v.latent, v.latent, 1);
  conv(stem, 'decoder.conv_in', v.latent, rev[0]!, 3);
  out.push(block({ name: 'decoder.conv_in', tensors: stem, work: N * c * (v.latent + rev[0]!), input: N * c * v.latent, flops: 2 * N * weights(stem) }));
  out.push(...vaeMid(x, 'decoder.mid', rev[0]!, N));
  let ch = rev[0]!;
  rev.forEach((oc, i) => {
    for (let j = 0; j <= v.layersPerBlock; j++) out.push(resnet(x, `decoder.up.${i}.resnets.${j}`, j === 0 ? ch : oc, oc, N, 0));
    ch = oc;
    if (i < rev.length - 1) {
      const d: Tensors = [];
      conv(d, `decoder.up.${i}.upsample`, oc, oc, 3);
      N *= 4;
      out.push(block({ name: `decoder.up.${i}.upsample`, tensors: d, saved: N * c * oc, work: 2 * N * c * oc, input: (N / 4) * c * oc, flops: 2 * N * weights(d) }));
    }
  });
  const tail: Tensors = [];
  norm(tail, 'decoder.conv_norm_out', ch);
  conv(tail, 'decoder.conv_out', ch, 3, 3);
  out.push(block({ name: 'decoder.conv_out', tensors: tail, work: N * c * (2 * ch + 3), input: N * c * ch, flops: 2 * N * weights(tail) }));
  return out;
}

export interface TextEncoderShape {
  kind: 'clip' | 't5';
  name: string;
  encoder: EncoderShape;
  layers: number;
  vocab: number;
  /** Tokens per prompt (CLIP 77; T5 in Flux: max_sequence_length 512). */
  seq: number;
  /** CLIPTextModelWithProjection's text_projection width; 0 for none. */
  projection: number;
}

/** CLIPTextModel(WithProjection) or T5EncoderModel: embeddings, layers, final norm. */
export function textEncoderBlocks(x: Ctx, s: TextEncoderShape): Block[] {
  const c = x.dt.compute;
  const h = s.encoder.hidden;
  const T = s.seq;
  const emb: Tensors = [];
  vec(emb, 'token_embedding', s.vocab * h);
  if (s.kind === 'clip') vec(emb, 'position_embedding', T * h);
  else vec(emb, 'relative_attention_bias', 32 * s.encoder.heads);
  const out: Block[] = [block({ name: `${s.name}: embeddings`, tensors: emb, work: T * 2 * x.dt.residual * h, input: T * 8 })];
  const lb = encoderLayerBytes(s.encoder, x.dt, x.eager);
  for (let l = 0; l < s.layers; l++) {
    const t = encoderLayerTensors(s.encoder, `${s.name}.layers.${l}`, 0);
    const scores = T * T * lb.scoresPerKey;
    out.push(
      block({
        name: `${s.name} layer ${l}`,
        tensors: t,
        saved: T * (lb.attention + lb.mlp) + scores,
        scores,
        work: encoderWorkingSet(s.encoder, x.dt, x.eager, T, T),
        input: T * lb.input,
        bwd: T * (2 * x.dt.residual * h + 3 * c * s.encoder.intermediate),
        recomputable: true,
        flops: 2 * T * weights(t) + 4 * T * T * h,
      }),
    );
  }
  const tail: Tensors = [];
  if (s.encoder.norm === 'layernorm') norm(tail, `${s.name}.final_layer_norm`, h);
  else vec(tail, `${s.name}.final_layer_norm`, h);
  if (s.projection > 0) mat(tail, `${s.name}.text_projection`, h, s.projection);
  out.push(block({ name: `${s.name}: final norm`, tensors: tail, saved: T * (x.dt.residual * h + 8), work: T * 2 * x.dt.residual * h, input: T * x.dt.residual * h }));
  return out;
}
