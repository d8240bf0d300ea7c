/**
 * The planner form's data, apart from its rendering: the fields as typed (strings, so an
 * invalid entry stays on screen), how a PlanConfig becomes that draft and back, the one-line
 * hints, and which fields apply to the chosen model and mode. No DOM.
 */
import { DEFAULT_PLAN, type PlanConfig } from '../protocol/config.ts';
import { DEFAULT_GPU_ID, chosenGpu } from '../estimate/gpus.ts';
import type { ModelInfo } from '../estimate/index.ts';

/** Text fields keyed by the config path they fill; `name` of each control is its key. */
export const TEXT_KEYS = [
  'model',
  'mlp.d',
  'mlp.hidden',
  'mlp.layers',
  'mlp.activation',
  'imageSize',
  'images',
  'maxPixels',
  'steps',
  'guidance',
  'vaeDecode',
  'pipelineOffload',
  'mode',
  'batch',
  'microBatch',
  'seq',
  'precision',
  'optimizer',
  'checkpoint',
  'attention',
  'loraRank',
  'zero',
  'gpus',
  'framework',
  'gpu',
  'gpuMemoryGiB',
] as const;
export type TextKey = (typeof TEXT_KEYS)[number];

/** The select's value for a typed size instead of a catalog card. */
export const CUSTOM_GPU = 'custom';

/** The form as typed. `gpu` is a catalog id or CUSTOM_GPU; `gpuMemoryGiB` is read only for CUSTOM_GPU. */
export type Draft = Record<TextKey, string> & { qlora: boolean };

/** The model id of an imported config.json (estimate/presets.ts resolves it from hfConfig). */
export const HF_MODEL = 'hf';

export function draftFrom(c: PlanConfig): Draft {
  const card = chosenGpu(c);
  return {
    model: c.model,
    'mlp.d': String(c.mlp.d),
    'mlp.hidden': String(c.mlp.hidden),
    'mlp.layers': String(c.mlp.layers),
    'mlp.activation': c.mlp.activation,
    imageSize: String(c.imageSize),
    images: c.images === undefined ? '' : String(c.images),
    maxPixels: c.maxPixels === undefined ? '' : String(c.maxPixels),
    steps: c.steps === undefined ? '' : String(c.steps),
    guidance: c.guidance ?? '',
    vaeDecode: c.vaeDecode ?? '',
    pipelineOffload: c.pipelineOffload ?? '',
    mode: c.mode,
    batch: String(c.batch),
    microBatch: c.microBatch === undefined ? '' : String(c.microBatch),
    seq: String(c.seq),
    precision: c.precision,
    optimizer: c.optimizer,
    checkpoint: c.checkpoint,
    attention: c.attention,
    loraRank: String(c.loraRank),
    qlora: c.qlora,
    zero: String(c.zero),
    gpus: String(c.gpus),
    framework: c.framework,
    gpu: card.id,
    gpuMemoryGiB: c.gpuMemoryGiB === undefined ? '' : String(c.gpuMemoryGiB),
  };
}

/** An empty box is NaN, which the schema reports as "must be a number". */
const num = (s: string): number => (s.trim() === '' ? Number.NaN : Number(s));
const optionalNum = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s));

/**
 * The untrusted object handed to parsePlanConfig; the schema does all the checking. The
 * default card is written as no card, so the URL stays short and has one spelling for it.
 */
export function rawConfig(d: Draft, hfConfig: unknown): unknown {
  const custom = d.gpu === CUSTOM_GPU;
  return {
    model: d.model,
    mlp: { d: num(d['mlp.d']), hidden: num(d['mlp.hidden']), layers: num(d['mlp.layers']), activation: d['mlp.activation'] },
    hfConfig,
    imageSize: num(d.imageSize),
    // Empty: the model's own default (one image, its steps and guidance, no offload).
    images: optionalNum(d.images),
    maxPixels: optionalNum(d.maxPixels),
    steps: optionalNum(d.steps),
    guidance: d.guidance === '' ? undefined : d.guidance,
    vaeDecode: d.vaeDecode === '' ? undefined : d.vaeDecode,
    pipelineOffload: d.pipelineOffload === '' ? undefined : d.pipelineOffload,
    mode: d.mode,
    batch: num(d.batch),
    microBatch: optionalNum(d.microBatch),
    seq: num(d.seq),
    precision: d.precision,
    optimizer: d.optimizer,
    checkpoint: d.checkpoint,
    attention: d.attention,
    loraRank: num(d.loraRank),
    qlora: d.qlora,
    zero: num(d.zero),
    gpus: num(d.gpus),
    framework: d.framework,
    gpu: custom || d.gpu === DEFAULT_GPU_ID ? undefined : d.gpu,
    gpuMemoryGiB: custom ? num(d.gpuMemoryGiB) : undefined,
  };
}

export type Family = ModelInfo['family'] | 'hf';

/** What the form shows and enables for a model family and mode, and why the rest is not there. */
export interface Applies {
  transformer: boolean;
  resnet: boolean;
  mlp: boolean;
  /** The image size field: ResNets and every image family. */
  image: boolean;
  /** Sequence length: language models, and a VLM's text tokens. */
  seq: boolean;
  /** Eager or fused attention: transformers, vision towers, VLMs, diffusion pipelines. */
  attention: boolean;
  /** LoRA (QLoRA only for language models and VLMs). */
  lora: boolean;
  qlora: boolean;
  /** Images per sample and the pixel budget (VLMs). */
  vlm: boolean;
  /** Steps, guidance, VAE decoding and offload (diffusion pipelines, in inference). */
  diffusion: boolean;
  train: boolean;
  /** ZeRO shards across GPUs: offered with more than one GPU, or when a link already set it. */
  zero: boolean;
  /** The fields left out for this model, named for a sentence ("sequence length, attention"). */
  hidden: string[];
}

const IMAGE_FAMILIES: readonly Family[] = ['resnet', 'vit', 'vlm', 'efficientnet', 'diffusion', 'gan'];

export function applies(family: Family, d: Draft): Applies {
  const image = IMAGE_FAMILIES.includes(family);
  const transformer = family !== 'mlp' && !image;
  const seq = transformer || family === 'vlm';
  const attention = transformer || family === 'vit' || family === 'vlm' || family === 'diffusion';
  const lora = attention;
  const qlora = transformer || family === 'vlm';
  const hidden = [...(seq ? [] : ['sequence length']), ...(attention ? [] : ['attention']), ...(lora ? (qlora ? [] : ['QLoRA']) : ['LoRA and QLoRA'])];
  return {
    transformer,
    resnet: family === 'resnet',
    mlp: family === 'mlp',
    image,
    seq,
    attention,
    lora,
    qlora,
    vlm: family === 'vlm',
    diffusion: family === 'diffusion',
    train: d.mode === 'train',
    zero: Number(d.gpus) > 1 || (d.zero !== '' && d.zero !== String(DEFAULT_PLAN.zero)),
    hidden,
  };
}

/** One sentence per control, shown on hover (title) and under the control while it has focus; some depend on the model. */
export function hints(family: Family, train: boolean): Record<TextKey | 'qlora', string> {
  const sample =
    family === 'vlm' ? 'prompts of text and images' : family === 'diffusion' ? 'images to generate (or to train on)' : IMAGE_FAMILIES.includes(family) ? 'images of the size above' : family === 'mlp' ? 'vectors of width d' : 'sequences of the length below';
  return {
    model: 'A preset with the real architecture, the mlp, or an imported config.json.',
    'mlp.d': 'Input and output width of each block.',
    'mlp.hidden': 'Width of the hidden layer inside each block.',
    'mlp.layers': 'Number of blocks; activations grow linearly with it.',
    'mlp.activation': 'GELU keeps its input for backward; ReLU keeps only its output.',
    imageSize:
      family === 'diffusion'
        ? 'Side of the square image to generate; latents are 8× smaller per side, and attention grows with the square of their count.'
        : 'Side of the square input image; activations grow with its square (a vision transformer’s eager attention with its fourth power).',
    images: 'Images per sample; each adds its tokens to the language model’s sequence (576 for LLaVA-1.5 at 336 px). Empty: 1.',
    maxPixels: 'Qwen2-VL’s pixel budget per image: larger images are resized to fit, so fewer tokens. Empty: the processor’s 12,845,056.',
    steps: 'Denoising steps: they cost time, not memory (each step reuses the same buffers). Empty: the pipeline’s own.',
    guidance: 'Classifier-free guidance runs the denoiser on the prompt and the negative prompt: twice the batch. Empty: on for SD, off for Flux.1-dev.',
    vaeDecode: 'Sliced decodes one image at a time; tiled decodes tiles of the VAE’s own size, for large images.',
    pipelineOffload: 'Diffusers’ CPU offload: model keeps only the running component on the GPU, sequential only its running layer (slow).',
    mode: 'Training holds gradients, optimizer states and activations; inference holds weights and the KV cache.',
    batch: train ? `Samples per GPU per optimizer step: ${sample}.` : `Samples per GPU per forward pass: ${sample}.`,
    microBatch: 'Samples per forward/backward; smaller than batch means gradient accumulation.',
    seq: train
      ? 'Tokens per sample. Eager attention grows with its square.'
      : 'Tokens of context per sample, held in the KV cache. Eager attention grows with its square.',
    precision: 'amp keeps fp32 weights with 16-bit copies and activations; fp16/bf16 store everything in 16 bits; int8/int4 quantize weights.',
    optimizer: 'Adam keeps two fp32 states per parameter, momentum one, SGD none.',
    checkpoint: 'Recompute activations in backward instead of keeping them: full keeps each layer input, sqrt every √n-th, selective only drops attention scores.',
    attention: 'eager materialises the s² attention scores; fused (FlashAttention-style) keeps only row statistics.',
    loraRank: 'Train low-rank adapters instead of all weights; 0 trains everything.',
    zero: 'ZeRO shards optimizer states (1), then gradients (2), then weights (3) across the GPUs.',
    gpus: 'Data-parallel GPUs; bytes are per GPU.',
    framework: 'pytorch predicts a PyTorch eager run; vramlab predicts this page’s own engine buffer by buffer.',
    gpu: 'The card the verdict and the chart’s line are for, at the memory its driver reports.',
    gpuMemoryGiB: 'Your card’s memory in GiB, as nvidia-smi reports it; also added to the fit list.',
    qlora: 'A 4-bit NF4 base model under the LoRA adapters.',
  };
}
