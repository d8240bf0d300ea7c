/**
 * Real architectures, with the shapes of their Hugging Face config.json / torchvision
 * definitions. Parameter counts follow from these (see params.ts and its tests).
 */
import type { PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';
import { LLM_PRESETS } from './llm-presets.ts';
import { DIFFUSION_PRESETS } from './diffusion.ts';
import { EFFICIENTNET_PRESETS } from './efficientnet.ts';
import { GAN_PRESETS } from './gan.ts';
import { parseModelConfig } from './hf.ts';
import { VIT_PRESETS, VLM_PRESETS } from './vision.ts';
import type { ModelSpec, ResNetSpec, TransformerSpec } from './specs.ts';
import { layerWindows } from './window.ts';

export type Preset = Omit<TransformerSpec, 'kind' | 'id' | 'name'> & { name: string };

const gpt2 = (name: string, hidden: number, layers: number, heads: number): Preset => ({
  name,
  family: 'gpt2',
  head: 'causal-lm',
  vocab: 50257,
  hidden,
  layers,
  heads,
  kvHeads: heads,
  headDim: hidden / heads,
  intermediate: 4 * hidden,
  maxPositions: 1024,
  typeVocab: 0,
  tiedEmbeddings: true,
  qkvBias: true,
  attnOutBias: true,
  linearBias: true,
  normsPerLayer: 2,
  norm: 'layernorm',
  act: 'gelu-new-python',
  dropout: true,
  pooler: false,
});

const bert = (name: string, hidden: number, layers: number, heads: number): Preset => ({
  name,
  family: 'bert',
  head: 'masked-lm',
  vocab: 30522,
  hidden,
  layers,
  heads,
  kvHeads: heads,
  headDim: hidden / heads,
  intermediate: 4 * hidden,
  maxPositions: 512,
  typeVocab: 2,
  tiedEmbeddings: true,
  qkvBias: true,
  attnOutBias: true,
  linearBias: true,
  normsPerLayer: 2,
  norm: 'layernorm',
  act: 'gelu',
  dropout: true,
  pooler: false,
});

interface LlamaShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  tied: boolean;
  headDim?: number;
  qkvBias?: boolean;
}

const llama = (name: string, s: LlamaShape): Preset => ({
  name,
  family: 'llama',
  head: 'causal-lm',
  vocab: s.vocab,
  hidden: s.hidden,
  layers: s.layers,
  heads: s.heads,
  kvHeads: s.kvHeads,
  headDim: s.headDim ?? s.hidden / s.heads,
  intermediate: s.intermediate,
  maxPositions: 0,
  typeVocab: 0,
  tiedEmbeddings: s.tied,
  qkvBias: s.qkvBias ?? false,
  attnOutBias: false,
  linearBias: false,
  normsPerLayer: 2,
  norm: 'rmsnorm',
  act: 'silu',
  dropout: false,
  pooler: false,
});

const TRANSFORMERS: Record<string, Preset> = {
  // A tiny GPT for the lab: trains in seconds on a CPU WebGPU adapter (engine-sized shapes).
  'gpt-nano': { ...gpt2('GPT nano (2 layers, d 64, vocab 256)', 64, 2, 4), vocab: 256, maxPositions: 64, act: 'gelu-tanh', dropout: false },
  'gpt2-small': gpt2('GPT-2 small (124M)', 768, 12, 12),
  'gpt2-medium': gpt2('GPT-2 medium (355M)', 1024, 24, 16),
  'gpt2-large': gpt2('GPT-2 large (774M)', 1280, 36, 20),
  'gpt2-xl': gpt2('GPT-2 XL (1.5B)', 1600, 48, 25),
  'bert-base': bert('BERT base, uncased (110M)', 768, 12, 12),
  'bert-large': bert('BERT large, uncased (335M)', 1024, 24, 16),
  'llama-2-7b': llama('Llama 2 7B', { vocab: 32000, hidden: 4096, layers: 32, heads: 32, kvHeads: 32, intermediate: 11008, tied: false }),
  'llama-2-13b': llama('Llama 2 13B', { vocab: 32000, hidden: 5120, layers: 40, heads: 40, kvHeads: 40, intermediate: 13824, tied: false }),
  'llama-3.2-1b': llama('Llama 3.2 1B', { vocab: 128256, hidden: 2048, layers: 16, heads: 32, kvHeads: 8, intermediate: 8192, tied: true }),
  'llama-3.2-3b': llama('Llama 3.2 3B', { vocab: 128256, hidden: 3072, layers: 28, heads: 24, kvHeads: 8, intermediate: 8192, tied: true }),
  'llama-3.1-8b': llama('Llama 3.1 8B', { vocab: 128256, hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336, tied: false }),
  // sliding_window 4096 on every layer (v0.1; later versions set it to null).
  'mistral-7b': { ...llama('Mistral 7B v0.1', { vocab: 32000, hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336, tied: false }), windows: layerWindows(32, 4096, { kind: 'all' }) },
  'qwen2.5-0.5b': llama('Qwen2.5 0.5B', { vocab: 151936, hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, tied: true, qkvBias: true }),
  'qwen2.5-7b': llama('Qwen2.5 7B', { vocab: 152064, hidden: 3584, layers: 28, heads: 28, kvHeads: 4, intermediate: 18944, tied: false, qkvBias: true }),
  ...LLM_PRESETS,
};

const RESNETS: Record<string, Omit<ResNetSpec, 'kind' | 'id'>> = {
  resnet18: { name: 'ResNet-18', block: 'basic', stages: [2, 2, 2, 2], classes: 1000 },
  resnet50: { name: 'ResNet-50', block: 'bottleneck', stages: [3, 4, 6, 3], classes: 1000 },
  resnet101: { name: 'ResNet-101', block: 'bottleneck', stages: [3, 4, 23, 3], classes: 1000 },
};

export interface ModelInfo {
  id: string;
  name: string;
  family: ModelFamily;
  /** Image models: the resolution it was trained at, the default of --image-size for it. */
  imageSize?: number;
}

export type ModelFamily = 'mlp' | 'gpt2' | 'bert' | 'llama' | 'resnet' | 'vit' | 'vlm' | 'efficientnet' | 'diffusion' | 'gan';

/** The image-model families, each preset in its own module (vision.ts, efficientnet.ts, diffusion.ts, gan.ts). */
const IMAGE_PRESETS = {
  vit: VIT_PRESETS,
  vlm: VLM_PRESETS,
  efficientnet: EFFICIENTNET_PRESETS,
  diffusion: DIFFUSION_PRESETS,
  gan: GAN_PRESETS,
} as const;
type ImageKind = keyof typeof IMAGE_PRESETS;
const IMAGE_KINDS = Object.keys(IMAGE_PRESETS) as ImageKind[];

/** The native resolution of an image preset (a VLM's is its vision tower's). */
function nativeSize(kind: ImageKind, p: { imageSize?: number; vision?: { imageSize: number } }): number {
  return kind === 'vlm' ? p.vision!.imageSize : p.imageSize!;
}

export const MODEL_IDS: readonly string[] = ['mlp', ...Object.keys(TRANSFORMERS), ...Object.keys(RESNETS), ...IMAGE_KINDS.flatMap((k) => Object.keys(IMAGE_PRESETS[k]))];

export function listModels(): ModelInfo[] {
  return [
    { id: 'mlp', name: 'MLP (d, hidden, layers)', family: 'mlp' },
    ...Object.entries(TRANSFORMERS).map(([id, p]) => ({ id, name: p.name, family: p.family })),
    ...Object.entries(RESNETS).map(([id, p]) => ({ id, name: p.name, family: 'resnet' as const, imageSize: 224 })),
    ...IMAGE_KINDS.flatMap((k) => Object.entries(IMAGE_PRESETS[k]).map(([id, p]) => ({ id, name: p.name, family: k, imageSize: nativeSize(k, p) }))),
  ];
}

/** The spec a configuration names: a preset, the mlp, or an imported config.json. */
export function resolveModel(config: PlanConfig): ModelSpec {
  const id = config.model;
  if (id === 'mlp') return { kind: 'mlp', id: 'mlp', name: `MLP ${config.mlp.layers}×(${config.mlp.d}→${config.mlp.hidden}→${config.mlp.d})`, ...config.mlp };
  if (id === 'hf') {
    if (config.hfConfig === undefined) throw new EstimateError('model hf needs a config.json: pass --hf-config path/to/config.json');
    return parseModelConfig(config.hfConfig);
  }
  const t = TRANSFORMERS[id];
  if (t) return { kind: 'transformer', id, ...t };
  const r = RESNETS[id];
  if (r) return { kind: 'resnet', id, ...r };
  for (const kind of IMAGE_KINDS) {
    const table: Record<string, object> = IMAGE_PRESETS[kind];
    if (Object.hasOwn(table, id)) return { kind, id, ...table[id] } as ModelSpec;
  }
  throw new EstimateError(`unknown model '${id}'; choose one of: ${MODEL_IDS.join(', ')}, or pass --hf-config`);
}

/** The resolution an image model was trained at (the default --image-size for it); undefined for other models. */
export function nativeImageSize(config: PlanConfig): number | undefined {
  const spec = resolveModel(config);
  switch (spec.kind) {
    case 'vit':
    case 'efficientnet':
    case 'diffusion':
    case 'gan':
      return spec.imageSize;
    case 'vlm':
      return spec.vision.imageSize;
    default:
      return undefined;
  }
}
