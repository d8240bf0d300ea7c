/**
 * config.json import for the image families, no network: transformers' ViT, CLIP and SigLIP
 * vision towers, LLaVA and Qwen2-VL, EfficientNet; a Diffusers pipeline's model_index.json with
 * its components' configs (the CLI reads them from the folders beside model_index.json and
 * passes them in `_components`).
 */
import type { z } from 'zod';
import {
  ClipTextConfigSchema,
  ClipVisionConfigSchema,
  EfficientNetConfigSchema,
  FluxConfigSchema,
  LlavaConfigSchema,
  ModelIndexSchema,
  Qwen2VlVisionSchema,
  T5ConfigSchema,
  UnetConfigSchema,
  VaeConfigSchema,
  VitConfigSchema,
} from '../protocol/hf-vision-config.ts';
import type { DiffusionSpec } from './diffusion.ts';
import type { TextEncoderShape } from './diffusion-parts.ts';
import type { EfficientNetSpec, MbStage } from './efficientnet.ts';
import type { EncoderShape } from './encoder.ts';
import { EstimateError } from './errors.ts';
import type { TransformerSpec } from './specs.ts';
import { QWEN2VL_MAX_PIXELS, type VitSpec, type VlmSpec } from './vision.ts';

export const VISION_TYPES = ['vit', 'clip_vision_model', 'siglip_vision_model', 'llava', 'qwen2_vl', 'efficientnet'] as const;
export const PIPELINES = ['StableDiffusionPipeline', 'StableDiffusionXLPipeline', 'FluxPipeline'] as const;

function parse<T extends z.ZodType>(schema: T, json: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new EstimateError(`${where}: ${i.path.join('.') || 'config'}: ${i.message}`);
}

function heads(hidden: number, n: number, where: string): number {
  if (hidden % n !== 0) throw new EstimateError(`${where}: num_attention_heads (${n}) must divide hidden_size (${hidden})`);
  return hidden / n;
}

const GELUS: Record<string, EncoderShape['act']> = { gelu: 'gelu', gelu_new: 'gelu', gelu_pytorch_tanh: 'gelu', quick_gelu: 'quick-gelu' };

function act(name: string, where: string): EncoderShape['act'] {
  if (Object.hasOwn(GELUS, name)) return GELUS[name]!;
  throw new EstimateError(`${where}: hidden_act '${name}' is not one vramlab knows for this model; known: ${Object.keys(GELUS).join(', ')}`);
}

const labels = (c: { id2label?: Record<string, string> | undefined; num_labels?: number | undefined }, fallback: number) => c.num_labels ?? (c.id2label ? Object.keys(c.id2label).length : fallback);

function clipVision(json: unknown, siglip: boolean, where: string, head: VitSpec['head']): VitSpec {
  const c = parse(ClipVisionConfigSchema, json, where);
  // CLIPVisionConfig / SiglipVisionConfig defaults.
  const hidden = c.hidden_size ?? 768;
  const n = c.num_attention_heads ?? 12;
  return {
    kind: 'vit',
    id: 'hf',
    name: `${siglip ? 'SigLIP' : 'CLIP'} vision tower (config.json)`,
    flavour: siglip ? 'siglip' : 'clip',
    imageSize: c.image_size ?? 224,
    patchSize: c.patch_size ?? (siglip ? 16 : 32),
    temporalPatch: 1,
    layers: c.num_hidden_layers ?? 12,
    encoder: { hidden, heads: n, headDim: heads(hidden, n, where), intermediate: c.intermediate_size ?? 3072, act: act(c.hidden_act ?? (siglip ? 'gelu_pytorch_tanh' : 'quick_gelu'), where), norm: 'layernorm', fusedQkv: false, bias: true },
    classToken: !siglip,
    patchBias: siglip,
    preNorm: !siglip,
    postNorm: siglip ? 'all' : 'pooled',
    head: siglip && (c.vision_use_head ?? true) ? { kind: 'pooling-head' } : head,
  };
}

/** An image-model config.json by its model_type; `parseLm` reads a VLM's language model. */
export function parseVisionConfig(type: (typeof VISION_TYPES)[number], json: Record<string, unknown>, arch: string | undefined, parseLm: (json: unknown) => TransformerSpec): VitSpec | VlmSpec | EfficientNetSpec {
  const where = 'config.json';
  switch (type) {
    case 'vit': {
      const c = parse(VitConfigSchema, json, where);
      const classifier = arch?.endsWith('ForImageClassification');
      return {
        kind: 'vit',
        id: 'hf',
        name: `${arch ?? 'ViTModel'} (config.json)`,
        flavour: 'vit',
        imageSize: c.image_size,
        patchSize: c.patch_size,
        temporalPatch: 1,
        layers: c.num_hidden_layers,
        encoder: { hidden: c.hidden_size, heads: c.num_attention_heads, headDim: heads(c.hidden_size, c.num_attention_heads, where), intermediate: c.intermediate_size, act: act(c.hidden_act, where), norm: 'layernorm', fusedQkv: false, bias: c.qkv_bias },
        classToken: true,
        patchBias: true,
        preNorm: false,
        postNorm: 'all',
        // ViTModel (AutoModel) has a pooler; the classifier class has a linear head instead.
        head: classifier ? { kind: 'classifier', classes: labels(c, 2) } : { kind: 'pooler' },
      };
    }
    case 'clip_vision_model':
    case 'siglip_vision_model': {
      const c = parse(ClipVisionConfigSchema, json, where);
      const head: VitSpec['head'] = arch === 'CLIPVisionModelWithProjection' ? { kind: 'projection', dim: c.projection_dim ?? 512 } : { kind: 'none' };
      const v = clipVision(json, type === 'siglip_vision_model', where, head);
      return { ...v, name: `${arch ?? (type === 'siglip_vision_model' ? 'SiglipVisionModel' : 'CLIPVisionModel')} (config.json)` };
    }
    case 'llava': {
      const c = parse(LlavaConfigSchema, json, where);
      const vision = clipVision(c.vision_config, c.vision_config.model_type === 'siglip_vision_model', `${where}: vision_config`, { kind: 'none' });
      if (vision.flavour === 'siglip') vision.head = { kind: 'none' };
      // LlavaConfig's text_config omits what LlamaConfig defaults (llava-hf's do): fill them in.
      const text = { model_type: 'llama', hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 32000, ...c.text_config, architectures: undefined };
      const lm = parseLm(text);
      return { kind: 'vlm', id: 'hf', name: `${arch ?? 'LlavaForConditionalGeneration'} (config.json)`, vision, projector: { kind: 'mlp2', hidden: lm.hidden }, lm, maxPixels: QWEN2VL_MAX_PIXELS };
    }
    case 'qwen2_vl': {
      const v = parse(Qwen2VlVisionSchema, json.vision_config ?? {}, `${where}: vision_config`);
      const lm = parseLm({ ...json, model_type: 'qwen2', architectures: undefined });
      const vision: VitSpec = {
        kind: 'vit',
        id: 'hf-vision',
        name: 'Qwen2-VL vision (config.json)',
        flavour: 'qwen2-vl',
        imageSize: 448,
        patchSize: v.patch_size,
        temporalPatch: v.temporal_patch_size,
        layers: v.depth,
        encoder: { hidden: v.embed_dim, heads: v.num_heads, headDim: heads(v.embed_dim, v.num_heads, `${where}: vision_config`), intermediate: Math.round(v.embed_dim * v.mlp_ratio), act: 'quick-gelu', norm: 'layernorm', fusedQkv: true, bias: true },
        classToken: false,
        patchBias: false,
        preNorm: false,
        postNorm: 'none',
        head: { kind: 'none' },
      };
      return { kind: 'vlm', id: 'hf', name: `${arch ?? 'Qwen2VLForConditionalGeneration'} (config.json)`, vision, projector: { kind: 'merger', merge: v.spatial_merge_size }, lm, maxPixels: QWEN2VL_MAX_PIXELS };
    }
    case 'efficientnet': {
      const c = parse(EfficientNetConfigSchema, json, where);
      const n = c.in_channels.length;
      const lists = [c.kernel_sizes, c.out_channels, c.strides, c.num_block_repeats, c.expand_ratios];
      if (lists.some((l) => l.length !== n)) throw new EstimateError(`${where}: kernel_sizes, in_channels, out_channels, strides, num_block_repeats and expand_ratios must have one entry per stage (${n})`);
      const stages: MbStage[] = c.in_channels.map((inC, i) => ({ expand: c.expand_ratios[i]!, kernel: c.kernel_sizes[i]!, stride: c.strides[i]!, inC, outC: c.out_channels[i]!, blocks: c.num_block_repeats[i]! }));
      return { kind: 'efficientnet', id: 'hf', name: `${arch ?? 'EfficientNetModel'} (config.json)`, width: c.width_coefficient, depth: c.depth_coefficient, imageSize: c.image_size, classes: labels(c, 1000), stages };
    }
  }
}

function textEncoder(name: string, json: unknown): TextEncoderShape {
  const where = `${name}/config.json`;
  const type = (json as { model_type?: unknown }).model_type;
  if (type === 't5') {
    const c = parse(T5ConfigSchema, json, where);
    if (c.feed_forward_proj !== 'gated-gelu') throw new EstimateError(`${where}: feed_forward_proj '${c.feed_forward_proj}': vramlab knows T5 v1.1's gated-gelu encoders`);
    return { kind: 't5', name, encoder: { hidden: c.d_model, heads: c.num_heads, headDim: c.d_kv, intermediate: c.d_ff, act: 'gated-gelu', norm: 'rmsnorm', fusedQkv: false, bias: false }, layers: c.num_layers, vocab: c.vocab_size, seq: 512, projection: 0 };
  }
  if (type !== 'clip_text_model') throw new EstimateError(`${where}: model_type '${String(type)}' is not a text encoder vramlab knows; supported: clip_text_model, t5`);
  const c = parse(ClipTextConfigSchema, json, where);
  const arch = (json as { architectures?: unknown }).architectures;
  const withProjection = Array.isArray(arch) && arch[0] === 'CLIPTextModelWithProjection';
  return {
    kind: 'clip',
    name,
    encoder: { hidden: c.hidden_size, heads: c.num_attention_heads, headDim: heads(c.hidden_size, c.num_attention_heads, where), intermediate: c.intermediate_size, act: act(c.hidden_act, where), norm: 'layernorm', fusedQkv: false, bias: true },
    layers: c.num_hidden_layers,
    vocab: c.vocab_size,
    seq: c.max_position_embeddings,
    projection: withProjection ? c.projection_dim : 0,
  };
}

/** A Diffusers model_index.json with its components' configs in `_components`. */
export function parseDiffusers(json: unknown): DiffusionSpec {
  const idx = parse(ModelIndexSchema, json, 'model_index.json');
  const cls = idx._class_name;
  if (!(PIPELINES as readonly string[]).includes(cls)) throw new EstimateError(`model_index.json: _class_name '${cls}' is not supported; supported: ${PIPELINES.join(', ')}`);
  const comps = idx._components;
  const need = (key: string) => {
    const c = comps?.[key];
    if (c === undefined) throw new EstimateError(`model_index.json: the ${key} component's config is missing: pass model_index.json from the pipeline's folder, with ${key}/config.json beside it`);
    return c;
  };
  const flux = cls === 'FluxPipeline';
  const textKeys = cls === 'StableDiffusionPipeline' ? ['text_encoder'] : ['text_encoder', 'text_encoder_2'];
  const textEncoders = textKeys.map((k) => textEncoder(k, need(k)));
  const vae = parse(VaeConfigSchema, need('vae'), 'vae/config.json');
  const vaeShape = { blockOut: vae.block_out_channels, layersPerBlock: vae.layers_per_block, latent: vae.latent_channels, quantConv: vae.use_quant_conv };
  const base = { kind: 'diffusion' as const, id: 'hf', name: `${cls} (model_index.json)`, textEncoders, vae: vaeShape, vaeTile: vae.sample_size };
  if (flux) {
    const t = parse(FluxConfigSchema, need('transformer'), 'transformer/config.json');
    return {
      ...base,
      denoiser: { kind: 'flux', shape: { inChannels: t.in_channels, heads: t.num_attention_heads, headDim: t.attention_head_dim, double: t.num_layers, single: t.num_single_layers, jointDim: t.joint_attention_dim, pooledDim: t.pooled_projection_dim, guidance: t.guidance_embeds } },
      imageSize: vae.sample_size,
      steps: 28,
      cfg: false,
    };
  }
  const u = parse(UnetConfigSchema, need('unet'), 'unet/config.json');
  const n = u.block_out_channels.length;
  const perBlock = (v: number | number[], field: string) => {
    const list = typeof v === 'number' ? Array.from({ length: n }, () => v) : v;
    if (list.length !== n) throw new EstimateError(`unet/config.json: ${field} needs one value per block (${n})`);
    return list;
  };
  if (u.down_block_types.length !== n) throw new EstimateError(`unet/config.json: down_block_types needs one entry per block (${n})`);
  const known = ['CrossAttnDownBlock2D', 'DownBlock2D'];
  const bad = u.down_block_types.find((t) => !known.includes(t));
  if (bad) throw new EstimateError(`unet/config.json: down block '${bad}' is not one vramlab knows; known: ${known.join(', ')}`);
  const textTime = u.addition_embed_type === 'text_time';
  return {
    ...base,
    denoiser: {
      kind: 'unet',
      shape: {
        inChannels: u.in_channels,
        blockOut: u.block_out_channels,
        layersPerBlock: u.layers_per_block,
        crossAttn: u.down_block_types.map((t) => t === 'CrossAttnDownBlock2D'),
        transformerLayers: perBlock(u.transformer_layers_per_block, 'transformer_layers_per_block'),
        heads: perBlock(u.attention_head_dim, 'attention_head_dim'),
        crossDim: u.cross_attention_dim,
        linearProj: u.use_linear_projection,
        addEmbedIn: textTime ? (u.projection_class_embeddings_input_dim ?? 0) : 0,
      },
    },
    imageSize: u.sample_size * 8,
    steps: 50,
    cfg: true,
  };
}
