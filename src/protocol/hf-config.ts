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
