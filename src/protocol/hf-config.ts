/**
 * Schemas of the Hugging Face config.json fields the planner reads, per family. Untrusted
 * input (pasted, dropped or --hf-config files): every size is bounded here, and the planner
 * refuses a model whose byte counts would pass 2^53.
 */
import { z } from 'zod';

/**
 * A config.json is a few kilobytes; anything over this is refused before it is read or parsed
 * (the page's file and paste input and the CLI's --hf-config alike), so a stray
 * multi-gigabyte file cannot stall either.
 */
export const MAX_HF_CONFIG_BYTES = 1 << 20;

export const MAX_DIM = 1 << 20;
export const MAX_VOCAB = 1 << 24;
export const MAX_LAYERS = 4096;

const dim = (max: number) => z.number().int().min(1).max(max);

export const Gpt2ConfigSchema = z.object({
  vocab_size: dim(MAX_VOCAB),
  n_embd: dim(MAX_DIM),
  n_layer: dim(MAX_LAYERS),
  n_head: dim(MAX_DIM),
  n_positions: dim(MAX_DIM).default(1024),
  n_inner: dim(MAX_DIM * 4).nullish(),
  activation_function: z.string().default('gelu_new'),
  attn_pdrop: z.number().min(0).max(1).default(0.1),
  resid_pdrop: z.number().min(0).max(1).default(0.1),
  tie_word_embeddings: z.boolean().default(true),
});

export const BertConfigSchema = z.object({
  vocab_size: dim(MAX_VOCAB),
  hidden_size: dim(MAX_DIM),
  num_hidden_layers: dim(MAX_LAYERS),
  num_attention_heads: dim(MAX_DIM),
  intermediate_size: dim(MAX_DIM * 4),
  max_position_embeddings: dim(MAX_DIM).default(512),
  type_vocab_size: z.number().int().min(0).max(MAX_DIM).default(2),
  hidden_act: z.string().default('gelu'),
  hidden_dropout_prob: z.number().min(0).max(1).default(0.1),
  tie_word_embeddings: z.boolean().default(true),
});

export const LlamaConfigSchema = z.object({
  vocab_size: dim(MAX_VOCAB),
  hidden_size: dim(MAX_DIM),
  num_hidden_layers: dim(MAX_LAYERS),
  num_attention_heads: dim(MAX_DIM),
  num_key_value_heads: dim(MAX_DIM).nullish(),
  intermediate_size: dim(MAX_DIM * 4),
  head_dim: dim(MAX_DIM).nullish(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  hidden_act: z.string().optional(),
  hidden_activation: z.string().nullish(),
});

export const HfEnvelopeSchema = z.object({
  model_type: z.string({ error: 'config.json has no model_type; add e.g. "model_type": "llama"' }),
  architectures: z.array(z.string()).optional(),
});

const layerIndex = z.number().int().min(0).max(MAX_LAYERS);
/** Attention kinds a `layer_types` entry may name that the planner models. */
export const HF_LAYER_TYPES = ['full_attention', 'sliding_attention'] as const;

/** Sliding-window and local/global attention (mistral, mixtral, phi3, qwen2/3, gemma2/3). */
export const WindowFieldsSchema = z.object({
  sliding_window: dim(MAX_DIM * 16).nullish(),
  /** Gemma 3: every n-th layer global, the others local. */
  sliding_window_pattern: dim(MAX_LAYERS).nullish(),
  layer_types: z.array(z.enum(HF_LAYER_TYPES, { error: `layer_types entries must be one of: ${HF_LAYER_TYPES.join(', ')}` })).max(MAX_LAYERS).nullish(),
  /** Qwen2/3: sliding window on layers from max_window_layers on, when enabled. */
  use_sliding_window: z.boolean().nullish(),
  max_window_layers: z.number().int().min(0).max(MAX_LAYERS).nullish(),
});

/** Mixture-of-experts fields, under each family's names. */
export const MoeFieldsSchema = z.object({
  num_local_experts: dim(MAX_DIM).nullish(),
  num_experts: dim(MAX_DIM).nullish(),
  n_routed_experts: dim(MAX_DIM).nullish(),
  num_experts_per_tok: dim(MAX_DIM).nullish(),
  /** GPT-OSS's original name for num_experts_per_tok. */
  experts_per_token: dim(MAX_DIM).nullish(),
  moe_intermediate_size: dim(MAX_DIM * 4).nullish(),
  n_shared_experts: z.number().int().min(0).max(MAX_DIM).nullish(),
  shared_expert_intermediate_size: z.number().int().min(0).max(MAX_DIM * 4).nullish(),
  first_k_dense_replace: z.number().int().min(0).max(MAX_LAYERS).nullish(),
  moe_layer_freq: dim(MAX_LAYERS).nullish(),
  decoder_sparse_step: dim(MAX_LAYERS).nullish(),
  mlp_only_layers: z.array(layerIndex).max(MAX_LAYERS).nullish(),
});

/** DeepSeek-V2/V3 multi-head latent attention. */
export const MlaFieldsSchema = z.object({
  q_lora_rank: dim(MAX_DIM).nullish(),
  kv_lora_rank: dim(MAX_DIM),
  qk_rope_head_dim: dim(MAX_DIM),
  qk_nope_head_dim: dim(MAX_DIM),
  v_head_dim: dim(MAX_DIM),
});

/** Falcon (transformers' FalconConfig, defaults as there: falcon-7b's shape). */
export const FalconConfigSchema = z.object({
  vocab_size: dim(MAX_VOCAB).default(65024),
  hidden_size: dim(MAX_DIM).default(4544),
  num_hidden_layers: dim(MAX_LAYERS).default(32),
  num_attention_heads: dim(MAX_DIM).default(71),
  num_kv_heads: dim(MAX_DIM).nullish(),
  multi_query: z.boolean().default(true),
  new_decoder_architecture: z.boolean().default(false),
  parallel_attn: z.boolean().default(true),
  num_ln_in_parallel_attn: z.union([z.literal(1), z.literal(2)]).nullish(),
  bias: z.boolean().default(false),
  ffn_hidden_size: dim(MAX_DIM * 4).nullish(),
  activation: z.string().default('gelu'),
  tie_word_embeddings: z.boolean().default(true),
});

/**
 * Gemma 3's language model (Gemma3TextConfig; the defaults are that class's, which
 * google/gemma-3-*-it text_config blocks rely on for the fields they leave out).
 */
export const Gemma3TextConfigSchema = z.object({
  vocab_size: dim(MAX_VOCAB).default(262208),
  hidden_size: dim(MAX_DIM).default(2304),
  intermediate_size: dim(MAX_DIM * 4).default(9216),
  num_hidden_layers: dim(MAX_LAYERS).default(26),
  num_attention_heads: dim(MAX_DIM).default(8),
  num_key_value_heads: dim(MAX_DIM).default(4),
  head_dim: dim(MAX_DIM).default(256),
  hidden_activation: z.string().default('gelu_pytorch_tanh'),
  sliding_window: dim(MAX_DIM * 16).default(4096),
  sliding_window_pattern: dim(MAX_LAYERS).default(6),
  tie_word_embeddings: z.boolean().default(true),
  attention_bias: z.boolean().default(false),
});
