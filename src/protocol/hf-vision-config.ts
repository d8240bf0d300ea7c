/**
 * Schemas of the config fields the planner reads for image models: transformers' ViT, CLIP and
 * SigLIP vision towers, LLaVA and Qwen2-VL, EfficientNet; Diffusers' model_index.json and its
 * components' config.json (UNet2DConditionModel, FluxTransformer2DModel, AutoencoderKL, CLIP
 * and T5 text encoders). Untrusted input: every size is bounded, defaults are the config
 * classes' own.
 */
import { z } from 'zod';
import { MAX_DIM, MAX_LAYERS, MAX_VOCAB } from './hf-config.ts';

const dim = (max: number) => z.number().int().min(1).max(max);
const dimList = (max: number) => z.array(dim(max)).min(1).max(16);

export const VitConfigSchema = z.object({
  hidden_size: dim(MAX_DIM).default(768),
  num_hidden_layers: dim(MAX_LAYERS).default(12),
  num_attention_heads: dim(MAX_DIM).default(12),
  intermediate_size: dim(MAX_DIM * 4).default(3072),
  image_size: dim(1 << 14).default(224),
  patch_size: dim(1 << 10).default(16),
  num_channels: z.literal(3).default(3),
  qkv_bias: z.boolean().default(true),
  hidden_act: z.string().default('gelu'),
  id2label: z.record(z.string(), z.string()).optional(),
  num_labels: dim(MAX_VOCAB).optional(),
});

/** CLIPVisionConfig and SiglipVisionConfig (their defaults differ: the caller supplies them). */
export const ClipVisionConfigSchema = z.object({
  hidden_size: dim(MAX_DIM).optional(),
  num_hidden_layers: dim(MAX_LAYERS).optional(),
  num_attention_heads: dim(MAX_DIM).optional(),
  intermediate_size: dim(MAX_DIM * 4).optional(),
  image_size: dim(1 << 14).optional(),
  patch_size: dim(1 << 10).optional(),
  projection_dim: dim(MAX_DIM).optional(),
  hidden_act: z.string().optional(),
  vision_use_head: z.boolean().optional(),
});

export const LlavaConfigSchema = z.object({
  vision_config: z.record(z.string(), z.unknown()),
  text_config: z.record(z.string(), z.unknown()),
  projector_hidden_act: z.string().default('gelu'),
});

export const Qwen2VlVisionSchema = z.object({
  depth: dim(MAX_LAYERS).default(32),
  embed_dim: dim(MAX_DIM).default(1280),
  mlp_ratio: z.number().min(1).max(64).default(4),
  num_heads: dim(MAX_DIM).default(16),
  patch_size: dim(1 << 10).default(14),
  spatial_merge_size: dim(16).default(2),
  temporal_patch_size: dim(16).default(2),
  in_chans: z.literal(3).default(3),
  hidden_size: dim(MAX_DIM).optional(),
});

export const EfficientNetConfigSchema = z.object({
  width_coefficient: z.number().min(0.1).max(16).default(2.0),
  depth_coefficient: z.number().min(0.1).max(16).default(3.1),
  image_size: dim(1 << 14).default(600),
  kernel_sizes: dimList(15).default([3, 3, 5, 3, 5, 5, 3]),
  in_channels: dimList(MAX_DIM).default([32, 16, 24, 40, 80, 112, 192]),
  out_channels: dimList(MAX_DIM).default([16, 24, 40, 80, 112, 192, 320]),
  strides: z.array(z.number().int().min(1).max(4)).min(1).max(16).default([1, 2, 2, 2, 1, 2, 1]),
  num_block_repeats: dimList(64).default([1, 2, 2, 3, 3, 4, 1]),
  expand_ratios: dimList(16).default([1, 6, 6, 6, 6, 6, 6]),
  hidden_dim: dim(MAX_DIM).optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  num_labels: dim(MAX_VOCAB).optional(),
});

/** model_index.json: the pipeline class and its components as [library, class] pairs. */
export const ModelIndexSchema = z.object({
  _class_name: z.string(),
  _components: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

const intOrList = z.union([dim(MAX_DIM), dimList(MAX_DIM)]);

export const UnetConfigSchema = z.object({
  in_channels: dim(64).default(4),
  block_out_channels: dimList(MAX_DIM).default([320, 640, 1280, 1280]),
  layers_per_block: dim(16).default(2),
  down_block_types: z.array(z.string()).min(1).max(16).default(['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']),
  transformer_layers_per_block: intOrList.default(1),
  attention_head_dim: intOrList.default(8),
  cross_attention_dim: dim(MAX_DIM).default(1280),
  use_linear_projection: z.boolean().default(false),
  addition_embed_type: z.string().nullish(),
  projection_class_embeddings_input_dim: dim(MAX_DIM).nullish(),
  sample_size: dim(1 << 12).default(64),
});

export const FluxConfigSchema = z.object({
  in_channels: dim(1024).default(64),
  num_layers: dim(MAX_LAYERS).default(19),
  num_single_layers: dim(MAX_LAYERS).default(38),
  attention_head_dim: dim(MAX_DIM).default(128),
  num_attention_heads: dim(MAX_DIM).default(24),
  joint_attention_dim: dim(MAX_DIM).default(4096),
  pooled_projection_dim: dim(MAX_DIM).default(768),
  guidance_embeds: z.boolean().default(false),
});

export const VaeConfigSchema = z.object({
  block_out_channels: dimList(MAX_DIM).default([64]),
  layers_per_block: dim(16).default(1),
  latent_channels: dim(64).default(4),
  use_quant_conv: z.boolean().default(true),
  sample_size: dim(1 << 14).default(32),
});

export const ClipTextConfigSchema = z.object({
  hidden_size: dim(MAX_DIM).default(512),
  intermediate_size: dim(MAX_DIM * 4).default(2048),
  num_hidden_layers: dim(MAX_LAYERS).default(12),
  num_attention_heads: dim(MAX_DIM).default(8),
  vocab_size: dim(MAX_VOCAB).default(49408),
  max_position_embeddings: dim(MAX_DIM).default(77),
  hidden_act: z.string().default('quick_gelu'),
  projection_dim: dim(MAX_DIM).default(512),
});

export const T5ConfigSchema = z.object({
  d_model: dim(MAX_DIM).default(512),
  d_kv: dim(MAX_DIM).default(64),
  d_ff: dim(MAX_DIM * 4).default(2048),
  num_layers: dim(MAX_LAYERS).default(6),
  num_heads: dim(MAX_DIM).default(8),
  vocab_size: dim(MAX_VOCAB).default(32128),
  relative_attention_num_buckets: dim(1024).default(32),
  feed_forward_proj: z.string().default('relu'),
});
