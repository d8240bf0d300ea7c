/**
 * Presets of today's decoder families: mixture of experts, latent attention, local/global
 * attention, MQA/GQA and fused projections. Shapes are the models' config.json values (defaults
 * of the transformers config class where the file leaves a field out); tests pin the parameter
 * counts against the published ones.
 */
import { moeLayers } from './moe.ts';
import type { Preset } from './presets.ts';
import { layerWindows } from './window.ts';

const decoder = (name: string, s: Omit<Preset, 'name' | 'family' | 'head' | 'maxPositions' | 'typeVocab' | 'qkvBias' | 'attnOutBias' | 'linearBias' | 'normsPerLayer' | 'norm' | 'act' | 'dropout' | 'pooler'> & Partial<Preset>): Preset => ({
  name,
  family: 'llama',
  head: 'causal-lm',
  maxPositions: 0,
  typeVocab: 0,
  qkvBias: false,
  attnOutBias: false,
  linearBias: false,
  normsPerLayer: 2,
  norm: 'rmsnorm',
  act: 'silu',
  dropout: false,
  pooler: false,
  ...s,
});

export const LLM_PRESETS: Record<string, Preset> = {
  // mistralai/Mixtral-8x7B-v0.1: 8 experts, 2 per token, every layer MoE.
  'mixtral-8x7b': decoder('Mixtral 8x7B (MoE, 8 experts, top-2)', {
    vocab: 32000, hidden: 4096, layers: 32, heads: 32, kvHeads: 8, headDim: 128, intermediate: 14336, tiedEmbeddings: false,
    moe: { experts: 8, topK: 2, expertIntermediate: 14336, sharedIntermediate: 0, sharedGate: false, routerBias: false, layers: moeLayers(32, { kind: 'all' }) },
  }),
  // Qwen/Qwen3-30B-A3B: 128 experts, 8 per token, q/k norms, decoder_sparse_step 1.
  'qwen3-30b-a3b': decoder('Qwen3 30B-A3B (MoE, 128 experts, top-8)', {
    vocab: 151936, hidden: 2048, layers: 48, heads: 32, kvHeads: 4, headDim: 128, intermediate: 6144, tiedEmbeddings: false, qkNorm: true,
    moe: { experts: 128, topK: 8, expertIntermediate: 768, sharedIntermediate: 0, sharedGate: false, routerBias: false, layers: moeLayers(48, { kind: 'qwen', step: 1, mlpOnly: [] }) },
  }),
  // deepseek-ai/DeepSeek-V3 main model (the multi-token-prediction layer, 14B more, is not loaded by transformers).
  'deepseek-v3': decoder('DeepSeek-V3 (MoE 256 experts top-8 + 1 shared, MLA)', {
    vocab: 129280, hidden: 7168, layers: 61, heads: 128, kvHeads: 128, headDim: 192, intermediate: 18432, tiedEmbeddings: false,
    mla: { qLoraRank: 1536, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 },
    moe: { experts: 256, topK: 8, expertIntermediate: 2048, sharedIntermediate: 2048, sharedGate: false, routerBias: true, layers: moeLayers(61, { kind: 'deepseek', firstDense: 3, freq: 1 }) },
  }),
  // openai/gpt-oss-20b: 32 experts, 4 per token, fused gate_up with biases, attention sinks,
  // a 128-token window on every other layer (the checkpoint stores the experts in MXFP4).
  'gpt-oss-20b': decoder('gpt-oss-20b (MoE, 32 experts, top-4)', {
    vocab: 201088, hidden: 2880, layers: 24, heads: 64, kvHeads: 8, headDim: 64, intermediate: 2880, tiedEmbeddings: false,
    qkvBias: true, attnOutBias: true, attnSinks: true, windows: layerWindows(24, 128, { kind: 'even' }),
    moe: { experts: 32, topK: 4, expertIntermediate: 2880, sharedIntermediate: 0, sharedGate: false, routerBias: false, gptOss: true, layers: moeLayers(24, { kind: 'all' }) },
  }),
  // google/gemma-3-4b-it's text_config (Gemma3TextConfig defaults for the fields it omits): 5 local layers of window 1024 per global one.
  'gemma-3-4b': decoder('Gemma 3 4B, language model (local/global)', {
    vocab: 262208, hidden: 2560, layers: 34, heads: 8, kvHeads: 4, headDim: 256, intermediate: 10240, tiedEmbeddings: true,
    normsPerLayer: 4, qkNorm: true, act: 'gelu-tanh', windows: layerWindows(34, 1024, { kind: 'pattern', pattern: 6 }),
  }),
  // tiiuae/falcon-7b: multi-query (1 kv head), parallel attention/MLP under one LayerNorm, no biases.
  'falcon-7b': decoder('Falcon 7B (multi-query)', {
    vocab: 65024, hidden: 4544, layers: 32, heads: 71, kvHeads: 1, headDim: 64, intermediate: 18176, tiedEmbeddings: true,
    norm: 'layernorm', normsPerLayer: 1, parallelBlock: true, gatedMlp: false, fusedQkv: true, act: 'gelu',
  }),
  // tiiuae/falcon-40b: new_decoder_architecture, 8 kv heads, ln_attn and ln_mlp.
  'falcon-40b': decoder('Falcon 40B (8 kv heads)', {
    vocab: 65024, hidden: 8192, layers: 60, heads: 128, kvHeads: 8, headDim: 64, intermediate: 32768, tiedEmbeddings: true,
    norm: 'layernorm', parallelBlock: true, gatedMlp: false, fusedQkv: true, act: 'gelu',
  }),
  // microsoft/Phi-3-mini-4k-instruct: fused qkv_proj and gate_up_proj, sliding_window 2047.
  'phi-3-mini': decoder('Phi-3 mini 4k (3.8B)', {
    vocab: 32064, hidden: 3072, layers: 32, heads: 32, kvHeads: 32, headDim: 96, intermediate: 8192, tiedEmbeddings: false,
    fusedQkv: true, fusedGateUp: true, windows: layerWindows(32, 2047, { kind: 'all' }),
  }),
};
