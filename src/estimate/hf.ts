/**
 * Hugging Face config.json import, no network: the family comes from `model_type`, the head
 * from `architectures[0]`'s suffix. Untrusted input: every field is checked and a bad one is
 * named with what is allowed.
 */
import type { z } from 'zod';
import { BertConfigSchema as Bert, Gpt2ConfigSchema as Gpt2, HfEnvelopeSchema as Envelope, LlamaConfigSchema as Llama } from '../protocol/hf-config.ts';
import { EstimateError } from './errors.ts';
import { LLM_MODEL_TYPES, isLlmModelType, parseLlmConfig, windowsOf } from './hf-llm.ts';
import { PIPELINES, VISION_TYPES, parseDiffusers, parseVisionConfig } from './hf-vision.ts';
import type { Head, ModelSpec, TransformerSpec } from './specs.ts';

const FAMILIES = ['gpt2', 'bert', 'llama', 'mistral', 'qwen2', 'gemma', 'gemma2'] as const;
type Family = (typeof FAMILIES)[number];

function fail(err: z.ZodError, what: string): never {
  const i = err.issues[0]!;
  const field = i.path.join('.') || what;
  throw new EstimateError(`config.json: ${field}: ${i.message}`);
}

/**
 * The class-name prefix of each model_type's transformers classes (Gemma2 before Gemma, so
 * the longer prefix wins). architectures[0] must belong to the model_type's family: a
 * 'llama' config naming BertForMaskedLM is contradictory, and either reading would be a guess.
 */
const CLASS_PREFIXES: readonly (readonly [Family, string, string])[] = [
  ['gemma2', 'Gemma2', 'Gemma2ForCausalLM'],
  ['gemma', 'Gemma', 'GemmaForCausalLM'],
  ['gpt2', 'GPT2', 'GPT2LMHeadModel'],
  ['bert', 'Bert', 'BertForMaskedLM'],
  ['llama', 'Llama', 'LlamaForCausalLM'],
  ['mistral', 'Mistral', 'MistralForCausalLM'],
  ['qwen2', 'Qwen2', 'Qwen2ForCausalLM'],
];

function checkClassFamily(archs: string[] | undefined, type: Family): void {
  const a = archs?.[0];
  if (!a) return;
  // Case-insensitive: early LLaMA configs name LLaMAForCausalLM.
  const of = CLASS_PREFIXES.find(([, prefix]) => a.toLowerCase().startsWith(prefix.toLowerCase()))?.[0];
  if (of === type) return;
  const [, own, example] = CLASS_PREFIXES.find(([f]) => f === type)!;
  const why = of === undefined ? `is not a ${type} class` : `is a ${of} class`;
  throw new EstimateError(`config.json: architectures[0] '${a}' ${why}, but model_type is '${type}': make them agree (a ${type} config names ${example}, ${own}Model…)`);
}

/**
 * The activations each family's config may name (transformers' ACT2FN keys these
 * implementations use), and what each is for the estimate; another name is refused rather
 * than counted as some other function.
 */
const ACTIVATIONS: Record<'gpt2' | 'bert' | 'llama', Record<string, TransformerSpec['act']>> = {
  gpt2: { gelu_new: 'gelu-new-python', gelu: 'gelu', gelu_pytorch_tanh: 'gelu-tanh', gelu_fast: 'gelu-tanh' },
  bert: { gelu: 'gelu', gelu_new: 'gelu-new-python', gelu_pytorch_tanh: 'gelu-tanh' },
  llama: { silu: 'silu', swish: 'silu', gelu_pytorch_tanh: 'gelu-tanh', gelu_new: 'gelu-tanh', gelu: 'gelu' },
};

function activationOf(family: keyof typeof ACTIVATIONS, field: string, name: string): TransformerSpec['act'] {
  const table = ACTIVATIONS[family];
  if (Object.hasOwn(table, name)) return table[name]!;
  throw new EstimateError(`config.json: ${field} '${name}' is not an activation vramlab knows for this model; known: ${Object.keys(table).join(', ')}`);
}

function headFromArchitectures(archs: string[] | undefined, fallback: Head): Head {
  const a = archs?.[0];
  if (!a) return fallback;
  if (a.endsWith('ForCausalLM') || a.endsWith('LMHeadModel')) return 'causal-lm';
  if (a.endsWith('ForMaskedLM')) return 'masked-lm';
  if (a.endsWith('Model')) return 'base';
  throw new EstimateError(
    `config.json: architectures[0] '${a}' is not supported; use a *ForCausalLM, *LMHeadModel, *ForMaskedLM or *Model class`,
  );
}

function divides(heads: number, hidden: number, field: string): number {
  if (hidden % heads !== 0) throw new EstimateError(`config.json: ${field} (${heads}) must divide the hidden size (${hidden}), or give head_dim`);
  return hidden / heads;
}

/** A model spec from a parsed config.json object (or a Diffusers model_index.json with its components). */
export function parseModelConfig(json: unknown): ModelSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EstimateError('config.json must be a JSON object like the ones on the Hugging Face hub');
  }
  if ('_class_name' in json && !('model_type' in json)) return parseDiffusers(json);
  const type = (json as { model_type?: unknown }).model_type;
  if ((VISION_TYPES as readonly unknown[]).includes(type)) {
    const arch = (json as { architectures?: unknown }).architectures;
    return parseVisionConfig(type as (typeof VISION_TYPES)[number], json as Record<string, unknown>, Array.isArray(arch) && typeof arch[0] === 'string' ? arch[0] : undefined, parseHfConfig);
  }
  return parseHfConfig(json);
}

/** A transformer spec from a parsed config.json object. */
export function parseHfConfig(json: unknown): TransformerSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EstimateError('config.json must be a JSON object like the ones on the Hugging Face hub');
  }
  const env = Envelope.safeParse(json);
  if (!env.success) fail(env.error, 'model_type');
  const type = env.data.model_type;
  const archName = env.data.architectures?.[0];
  const base = { kind: 'transformer' as const, id: 'hf', pooler: false };
  switch (type) {
    case 'gpt2': {
      const r = Gpt2.safeParse(json);
      if (!r.success) fail(r.error, 'gpt2');
      const c = r.data;
      checkClassFamily(env.data.architectures, 'gpt2');
      const head = headFromArchitectures(env.data.architectures, 'causal-lm');
      return {
        ...base,
        name: `${archName ?? 'GPT2LMHeadModel'} (config.json)`,
        family: 'gpt2',
        head,
        vocab: c.vocab_size,
        hidden: c.n_embd,
        layers: c.n_layer,
        heads: c.n_head,
        kvHeads: c.n_head,
        headDim: divides(c.n_head, c.n_embd, 'n_head'),
        intermediate: c.n_inner ?? 4 * c.n_embd,
        maxPositions: c.n_positions,
        typeVocab: 0,
        tiedEmbeddings: c.tie_word_embeddings,
        qkvBias: true,
        attnOutBias: true,
        linearBias: true,
        normsPerLayer: 2,
        norm: 'layernorm',
        act: activationOf('gpt2', 'activation_function', c.activation_function),
        dropout: c.attn_pdrop > 0 || c.resid_pdrop > 0,
      };
    }
    case 'bert': {
      const r = Bert.safeParse(json);
      if (!r.success) fail(r.error, 'bert');
      const c = r.data;
      checkClassFamily(env.data.architectures, 'bert');
      const head = headFromArchitectures(env.data.architectures, 'masked-lm');
      return {
        ...base,
        name: `${archName ?? 'BertForMaskedLM'} (config.json)`,
        family: 'bert',
        head,
        vocab: c.vocab_size,
        hidden: c.hidden_size,
        layers: c.num_hidden_layers,
        heads: c.num_attention_heads,
        kvHeads: c.num_attention_heads,
        headDim: divides(c.num_attention_heads, c.hidden_size, 'num_attention_heads'),
        intermediate: c.intermediate_size,
        maxPositions: c.max_position_embeddings,
        typeVocab: c.type_vocab_size,
        tiedEmbeddings: c.tie_word_embeddings,
        qkvBias: true,
        attnOutBias: true,
        linearBias: true,
        normsPerLayer: 2,
        norm: 'layernorm',
        act: activationOf('bert', 'hidden_act', c.hidden_act),
        dropout: c.hidden_dropout_prob > 0,
        // BertModel (AutoModel's class for bert) carries the pooler; the MLM class has none.
        pooler: head === 'base',
      };
    }
    case 'llama':
    case 'mistral':
    case 'qwen2':
    case 'gemma':
    case 'gemma2': {
      const r = Llama.safeParse(json);
      if (!r.success) fail(r.error, type);
      const c = r.data;
      checkClassFamily(env.data.architectures, type);
      const head = headFromArchitectures(env.data.architectures, 'causal-lm');
      const kv = c.num_key_value_heads ?? c.num_attention_heads;
      if (c.num_attention_heads % kv !== 0) {
        throw new EstimateError(
          `config.json: num_key_value_heads (${kv}) must divide num_attention_heads (${c.num_attention_heads})`,
        );
      }
      const headDim = c.head_dim ?? divides(c.num_attention_heads, c.hidden_size, 'num_attention_heads');
      const gemma = type === 'gemma' || type === 'gemma2';
      const actField = c.hidden_activation != null ? 'hidden_activation' : 'hidden_act';
      const act = activationOf('llama', actField, c.hidden_activation ?? c.hidden_act ?? (gemma ? 'gelu_pytorch_tanh' : 'silu'));
      // Gemma2Config's sliding_window default is 4096 (every other layer).
      const windows = windowsOf(type, json, c.num_hidden_layers, type === 'gemma2' ? 4096 : undefined);
      return {
        ...(windows ? { windows } : {}),
        ...base,
        name: `${archName ?? type} (config.json)`,
        family: 'llama',
        head,
        vocab: c.vocab_size,
        hidden: c.hidden_size,
        layers: c.num_hidden_layers,
        heads: c.num_attention_heads,
        kvHeads: kv,
        headDim,
        intermediate: c.intermediate_size,
        maxPositions: 0,
        typeVocab: 0,
        // Defaults of the transformers config classes: gemma ties, the others do not.
        tiedEmbeddings: c.tie_word_embeddings ?? gemma,
        qkvBias: type === 'qwen2' || (c.attention_bias ?? false),
        attnOutBias: c.attention_bias ?? false,
        linearBias: c.mlp_bias ?? false,
        normsPerLayer: type === 'gemma2' ? 4 : 2,
        norm: 'rmsnorm',
        act,
        dropout: false,
      };
    }
    default:
      if (isLlmModelType(type)) return parseLlmConfig(type, json, env.data.architectures);
      throw new EstimateError(`config.json: model_type '${type}' is not supported; supported: ${[...FAMILIES, ...LLM_MODEL_TYPES, ...VISION_TYPES].join(', ')}, or a Diffusers model_index.json (${PIPELINES.join(', ')})`);
  }
}
