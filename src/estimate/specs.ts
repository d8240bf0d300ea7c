/**
 * Architectures the planner knows, as plain data. A spec holds only what changes memory:
 * shapes, which tensors exist, which are tied, and what the forward keeps for backward.
 */
import type { MlpShape } from '../protocol/config.ts';
import type { MlaSpec } from './mla.ts';
import type { MoeSpec } from './moe.ts';
import type { DiffusionSpec } from './diffusion.ts';
import type { EfficientNetSpec } from './efficientnet.ts';
import type { GanSpec } from './gan.ts';
import type { VitSpec, VlmSpec } from './vision.ts';

/** Which head sits on the transformer body (Hugging Face class suffix). */
export const HEADS = ['causal-lm', 'masked-lm', 'base'] as const;
export type Head = (typeof HEADS)[number];

export interface TransformerSpec {
  kind: 'transformer';
  id: string;
  name: string;
  /** gpt2: learned positions, pre-LN, GELU(tanh) MLP; bert: post-LN, token types; llama: RMSNorm, RoPE, gated MLP. */
  family: 'gpt2' | 'bert' | 'llama';
  head: Head;
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  /** Learned position table rows (gpt2, bert); 0 for rotary. */
  maxPositions: number;
  /** bert token-type rows. */
  typeVocab: number;
  tiedEmbeddings: boolean;
  /** Biases on q/k/v (qwen2 has them, llama not). */
  qkvBias: boolean;
  /** Bias on the attention output projection (gpt2, bert; llama with attention_bias). */
  attnOutBias: boolean;
  /** Biases on the MLP projections (gpt2, bert; llama with mlp_bias). */
  linearBias: boolean;
  /** Norm weights per layer: 2 for llama-style, 4 for gemma2/3 (pre/post attention and MLP), 1 for falcon-7b (one norm feeds attention and MLP). */
  normsPerLayer: number;
  /** LayerNorm has weight and bias; RMSNorm only weight. */
  norm: 'layernorm' | 'rmsnorm';
  /** Activation as implemented by Hugging Face: it decides what autograd keeps. */
  act: 'gelu-new-python' | 'gelu' | 'gelu-tanh' | 'silu';
  /** Attention/residual dropout active in train mode (gpt2, bert defaults: 0.1). */
  dropout: boolean;
  /** bert base model only: the pooler dense layer. */
  pooler: boolean;
  // Variants of today's decoder families (llama family only); absent means the plain layout.
  /** Mixture of experts on some or all layers (moe.ts). */
  moe?: MoeSpec;
  /** Multi-head latent attention, DeepSeek-V2/V3 (mla.ts). */
  mla?: MlaSpec;
  /** Keys each layer attends to, in tokens: 0 for a global layer, else its sliding window (window.ts). */
  windows?: readonly number[];
  /** GPT-OSS: a learned attention sink (one logit) per head and layer. */
  attnSinks?: boolean;
  /** RMSNorm over head_dim on q and k (qwen3, gemma3). */
  qkNorm?: boolean;
  /** Attention and MLP read the same input and add to the residual together (falcon). */
  parallelBlock?: boolean;
  /** false: up → activation → down, no gate (falcon). Default: gated. */
  gatedMlp?: boolean;
  /** One q/k/v matrix (phi3 qkv_proj, falcon query_key_value): one saved input cast, not three. */
  fusedQkv?: boolean;
  /** One gate/up matrix (phi3 gate_up_proj). */
  fusedGateUp?: boolean;
}

export interface ResNetSpec {
  kind: 'resnet';
  id: string;
  name: string;
  block: 'basic' | 'bottleneck';
  /** Blocks per stage, e.g. [3, 4, 6, 3] for ResNet-50. */
  stages: readonly [number, number, number, number];
  classes: number;
}

export interface MlpSpec extends MlpShape {
  kind: 'mlp';
  id: 'mlp';
  name: string;
}

export type ModelSpec = TransformerSpec | ResNetSpec | MlpSpec | VitSpec | VlmSpec | EfficientNetSpec | DiffusionSpec | GanSpec;
export type { DiffusionSpec, EfficientNetSpec, GanSpec, VitSpec, VlmSpec };
