/**
 * config.json import for today's decoder families, no network: mixture of experts (mixtral,
 * qwen2_moe, qwen3_moe, deepseek_v2/v3), latent attention (deepseek), local/global attention
 * (gemma3, and the sliding windows of mistral, phi3, qwen2/3, gemma2), MQA/GQA variants and
 * fused projections (falcon, phi3), q/k norms (qwen3). Fields and defaults are those of the
 * transformers config classes; every field is checked and a bad one is named.
 */
import type { z } from 'zod';
import {
  FalconConfigSchema as Falcon,
  Gemma3TextConfigSchema as Gemma3Text,
  LlamaConfigSchema as Llama,
  MlaFieldsSchema as MlaFields,
  MoeFieldsSchema as MoeFields,
  WindowFieldsSchema as WindowFields,
} from '../protocol/hf-config.ts';
import { EstimateError } from './errors.ts';
import { type MoeSpec, moeLayers } from './moe.ts';
import type { Head, TransformerSpec } from './specs.ts';
import { layerWindows } from './window.ts';

export const LLM_MODEL_TYPES = ['mixtral', 'qwen2_moe', 'qwen3', 'qwen3_moe', 'deepseek_v2', 'deepseek_v3', 'gpt_oss', 'gemma3_text', 'gemma3', 'falcon', 'phi3'] as const;
export type LlmModelType = (typeof LLM_MODEL_TYPES)[number];

export const isLlmModelType = (t: string): t is LlmModelType => (LLM_MODEL_TYPES as readonly string[]).includes(t);

/** The transformers class-name prefix of each model_type (…ForCausalLM, …Model). */
const CLASS_PREFIX: Record<LlmModelType, string> = {
  mixtral: 'Mixtral',
  qwen2_moe: 'Qwen2Moe',
  qwen3: 'Qwen3',
  qwen3_moe: 'Qwen3Moe',
  deepseek_v2: 'DeepseekV2',
  deepseek_v3: 'DeepseekV3',
  gpt_oss: 'GptOss',
  gemma3_text: 'Gemma3',
  gemma3: 'Gemma3',
  falcon: 'Falcon',
  phi3: 'Phi3',
};

function fail(err: z.ZodError, prefix = ''): never {
  const i = err.issues[0]!;
  throw new EstimateError(`config.json: ${prefix}${i.path.join('.') || 'config'}: ${i.message}`);
}

function parse<T extends z.ZodType>(schema: T, json: unknown, prefix = ''): z.infer<T> {
  const r = schema.safeParse(json);
  if (!r.success) fail(r.error, prefix);
  return r.data;
}

/** The head from architectures[0], which must be a class of this model_type (exact name). */
function headOf(type: LlmModelType, archs: string[] | undefined): Head {
  const a = archs?.[0];
  if (!a) return 'causal-lm';
  const p = CLASS_PREFIX[type];
  const is = (suffix: string) => a.toLowerCase() === `${p}${suffix}`.toLowerCase();
  if (is('ForCausalLM')) return 'causal-lm';
  // Gemma 3's multimodal class: its language model with the LM head (the vision tower is not counted here).
  if (type === 'gemma3' && is('ForConditionalGeneration')) return 'causal-lm';
  if (is('Model') && type !== 'gemma3') return 'base';
  const own = type === 'gemma3' ? `${p}ForConditionalGeneration` : `${p}ForCausalLM or ${p}Model`;
  throw new EstimateError(`config.json: architectures[0] '${a}' is not a ${type} class; a ${type} config names ${own}`);
}

const ACTS: Record<string, TransformerSpec['act']> = { silu: 'silu', swish: 'silu', gelu: 'gelu', gelu_pytorch_tanh: 'gelu-tanh', gelu_new: 'gelu-tanh' };

function actOf(field: string, name: string): TransformerSpec['act'] {
  if (Object.hasOwn(ACTS, name)) return ACTS[name]!;
  throw new EstimateError(`config.json: ${field} '${name}' is not an activation vramlab knows for this model; known: ${Object.keys(ACTS).join(', ')}`);
}

function kvHeadsDividing(heads: number, kv: number, field: string): number {
  if (heads % kv !== 0) throw new EstimateError(`config.json: ${field} (${kv}) must divide num_attention_heads (${heads})`);
  return kv;
}

function headDimOf(hidden: number, heads: number, given: number | null | undefined): number {
  if (given != null) return given;
  if (hidden % heads !== 0) throw new EstimateError(`config.json: num_attention_heads (${heads}) must divide the hidden size (${hidden}), or give head_dim`);
  return hidden / heads;
}

/**
 * Keys each layer attends to (0: global), from `layer_types` or the family's rule; undefined
 * when every layer is global. `defaultWindow` is the config class's sliding_window default.
 */
export function windowsOf(type: string, json: unknown, layers: number, defaultWindow?: number): number[] | undefined {
  const c = parse(WindowFields, json);
  const window = c.sliding_window ?? defaultWindow;
  if (c.layer_types != null) {
    if (c.layer_types.length !== layers) {
      throw new EstimateError(`config.json: layer_types has ${c.layer_types.length} entries for ${layers} layers (num_hidden_layers); give one per layer`);
    }
    if (!c.layer_types.includes('sliding_attention')) return undefined;
    if (window === undefined) throw new EstimateError('config.json: layer_types names sliding_attention layers but sliding_window is not set; give the window in tokens');
    return layerWindows(layers, window, { kind: 'types', types: c.layer_types });
  }
  if (window === undefined) return undefined;
  switch (type) {
    case 'mistral':
    case 'mixtral':
    case 'phi3':
      return layerWindows(layers, window, { kind: 'all' });
    case 'gemma2':
    case 'gpt_oss':
      return layerWindows(layers, window, { kind: 'even' });
    case 'gemma3':
    case 'gemma3_text':
      return layerWindows(layers, window, { kind: 'pattern', pattern: c.sliding_window_pattern ?? 6 });
    case 'qwen2':
    case 'qwen2_moe':
    case 'qwen3':
    case 'qwen3_moe': {
      // transformers: sliding on layers ≥ max_window_layers, and only with use_sliding_window.
      if (c.use_sliding_window !== true) return undefined;
      const from = c.max_window_layers ?? layers;
      const types = Array.from({ length: layers }, (_, l) => (l >= from ? 'sliding_attention' : 'full_attention'));
      return types.includes('sliding_attention') ? layerWindows(layers, window, { kind: 'types', types }) : undefined;
    }
    default:
      return undefined;
  }
}

const BASE = {
  kind: 'transformer' as const,
  id: 'hf',
  family: 'llama' as const,
  maxPositions: 0,
  typeVocab: 0,
  qkvBias: false,
  attnOutBias: false,
  linearBias: false,
  normsPerLayer: 2,
  norm: 'rmsnorm' as const,
  act: 'silu' as const,
  dropout: false,
  pooler: false,
};

const named = (type: LlmModelType, archs: string[] | undefined) => `${archs?.[0] ?? type} (config.json)`;

/** A transformer spec from a config.json of one of LLM_MODEL_TYPES. */
export function parseLlmConfig(type: LlmModelType, json: object, archs: string[] | undefined): TransformerSpec {
  const head = headOf(type, archs);
  if (type === 'falcon') return falcon(json, archs, head);
  if (type === 'gemma3' || type === 'gemma3_text') return gemma3(type, json, archs, head);
  const c = parse(Llama, json);
  const kvHeads = kvHeadsDividing(c.num_attention_heads, c.num_key_value_heads ?? c.num_attention_heads, 'num_key_value_heads');
  // GptOssConfig: sliding_window 128 on alternate layers, biases on the attention projections.
  const gptOss = type === 'gpt_oss';
  const windows = windowsOf(type, json, c.num_hidden_layers, gptOss ? 128 : undefined);
  const attnBias = c.attention_bias ?? gptOss;
  const spec: TransformerSpec = {
    ...BASE,
    name: named(type, archs),
    head,
    vocab: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads,
    // Qwen3Config's head_dim default is 128.
    headDim: type === 'qwen3' || type === 'qwen3_moe' ? (c.head_dim ?? 128) : headDimOf(c.hidden_size, c.num_attention_heads, c.head_dim),
    intermediate: c.intermediate_size,
    tiedEmbeddings: c.tie_word_embeddings ?? false,
    qkvBias: type === 'qwen2_moe' || attnBias,
    attnOutBias: attnBias,
    linearBias: c.mlp_bias ?? false,
    act: actOf('hidden_act', c.hidden_act ?? 'silu'),
    ...(windows ? { windows } : {}),
  };
  if (type === 'qwen3' || type === 'qwen3_moe') spec.qkNorm = true;
  if (gptOss) spec.attnSinks = true;
  if (type === 'phi3') {
    spec.fusedQkv = true;
    spec.fusedGateUp = true;
  }
  if (type === 'deepseek_v2' || type === 'deepseek_v3') {
    const m = parse(MlaFields, json);
    spec.mla = { qLoraRank: m.q_lora_rank ?? 0, kvLoraRank: m.kv_lora_rank, qkNopeHeadDim: m.qk_nope_head_dim, qkRopeHeadDim: m.qk_rope_head_dim, vHeadDim: m.v_head_dim };
    spec.headDim = m.qk_nope_head_dim + m.qk_rope_head_dim;
    spec.qkvBias = false;
    spec.attnOutBias = false;
  }
  const moe = moeOf(type, json, spec);
  if (moe) spec.moe = moe;
  return spec;
}

function moeOf(type: LlmModelType, json: object, s: TransformerSpec): MoeSpec | undefined {
  if (type === 'qwen3' || type === 'phi3') return undefined;
  const f = parse(MoeFields, json);
  const L = s.layers;
  const need = (v: number | null | undefined, field: string): number => {
    if (v == null) throw new EstimateError(`config.json: ${field} is missing; a ${type} config gives it (experts per layer, experts per token, expert width)`);
    return v;
  };
  let m: MoeSpec;
  switch (type) {
    case 'gpt_oss':
      m = {
        experts: f.num_local_experts ?? 128,
        topK: f.num_experts_per_tok ?? f.experts_per_token ?? 4,
        expertIntermediate: s.intermediate,
        sharedIntermediate: 0,
        sharedGate: false,
        routerBias: false,
        gptOss: true,
        layers: moeLayers(L, { kind: 'all' }),
      };
      break;
    case 'mixtral':
      m = { experts: f.num_local_experts ?? 8, topK: f.num_experts_per_tok ?? 2, expertIntermediate: s.intermediate, sharedIntermediate: 0, sharedGate: false, routerBias: false, layers: moeLayers(L, { kind: 'all' }) };
      break;
    case 'qwen2_moe':
    case 'qwen3_moe': {
      const experts = need(f.num_experts, 'num_experts');
      const mlpOnly = f.mlp_only_layers ?? [];
      const bad = mlpOnly.find((l) => l >= L);
      if (bad !== undefined) throw new EstimateError(`config.json: mlp_only_layers names layer ${bad}, past the last layer (${L - 1})`);
      m = {
        experts,
        topK: need(f.num_experts_per_tok, 'num_experts_per_tok'),
        expertIntermediate: need(f.moe_intermediate_size, 'moe_intermediate_size'),
        sharedIntermediate: type === 'qwen2_moe' ? (f.shared_expert_intermediate_size ?? 0) : 0,
        sharedGate: type === 'qwen2_moe' && (f.shared_expert_intermediate_size ?? 0) > 0,
        routerBias: false,
        layers: moeLayers(L, { kind: 'qwen', step: f.decoder_sparse_step ?? 1, mlpOnly }),
      };
      break;
    }
    case 'deepseek_v2':
    case 'deepseek_v3': {
      // n_routed_experts null: a dense DeepSeek.
      if (f.n_routed_experts == null) return undefined;
      const Ie = need(f.moe_intermediate_size, 'moe_intermediate_size');
      m = {
        experts: f.n_routed_experts,
        topK: need(f.num_experts_per_tok, 'num_experts_per_tok'),
        expertIntermediate: Ie,
        sharedIntermediate: (f.n_shared_experts ?? 0) * Ie,
        sharedGate: false,
        routerBias: type === 'deepseek_v3',
        layers: moeLayers(L, { kind: 'deepseek', firstDense: f.first_k_dense_replace ?? 0, freq: f.moe_layer_freq ?? 1 }),
      };
      break;
    }
    default:
      return undefined;
  }
  if (m.topK > m.experts) throw new EstimateError(`config.json: num_experts_per_tok (${m.topK}) is more than the ${m.experts} experts per layer`);
  return m;
}

function falcon(json: object, archs: string[] | undefined, head: Head): TransformerSpec {
  const c = parse(Falcon, json);
  const heads = c.num_attention_heads;
  // transformers' FalconAttention: num_kv_heads with the new decoder architecture, else 1 (multi-query) or one per head.
  const kvHeads = c.new_decoder_architecture ? kvHeadsDividing(heads, c.num_kv_heads ?? heads, 'num_kv_heads') : c.multi_query ? 1 : heads;
  const twoNorms = !c.parallel_attn || (c.new_decoder_architecture && (c.num_ln_in_parallel_attn ?? 2) === 2);
  return {
    ...BASE,
    name: named('falcon', archs),
    head,
    vocab: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads,
    headDim: headDimOf(c.hidden_size, heads, undefined),
    intermediate: c.ffn_hidden_size ?? 4 * c.hidden_size,
    tiedEmbeddings: c.tie_word_embeddings,
    qkvBias: c.bias,
    attnOutBias: c.bias,
    linearBias: c.bias,
    normsPerLayer: twoNorms ? 2 : 1,
    norm: 'layernorm',
    act: actOf('activation', c.activation),
    parallelBlock: c.parallel_attn,
    gatedMlp: false,
    fusedQkv: true,
  };
}

function gemma3(type: 'gemma3' | 'gemma3_text', json: object, archs: string[] | undefined, head: Head): TransformerSpec {
  let text: unknown = json;
  let prefix = '';
  if (type === 'gemma3') {
    const t = (json as { text_config?: unknown }).text_config ?? {};
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new EstimateError('config.json: text_config must be an object (the language model of Gemma 3)');
    text = t;
    prefix = 'text_config.';
  }
  const c = parse(Gemma3Text, text, prefix);
  const kvHeads = kvHeadsDividing(c.num_attention_heads, c.num_key_value_heads, `${prefix}num_key_value_heads`);
  const windows = windowsOf('gemma3', text, c.num_hidden_layers, c.sliding_window);
  return {
    ...BASE,
    name: type === 'gemma3' ? `${archs?.[0] ?? 'Gemma3ForConditionalGeneration'} language model (config.json; vision tower not counted)` : named(type, archs),
    head,
    vocab: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads,
    headDim: c.head_dim,
    intermediate: c.intermediate_size,
    tiedEmbeddings: c.tie_word_embeddings,
    qkvBias: c.attention_bias,
    attnOutBias: c.attention_bias,
    normsPerLayer: 4,
    act: actOf(`${prefix}hidden_activation`, c.hidden_activation),
    qkNorm: true,
    ...(windows ? { windows } : {}),
  };
}
