/**
 * `vramlab estimate` flags → a validated PlanConfig, `vramlab run` flags → a validated
 * RunConfig or GptRunConfig (and a sweep over one of its sizes). One table per command (ESTIMATE_FLAGS, RUN_FLAGS) drives parsing, the help text
 * and the mapping of schema errors back to flag names, so the three cannot drift apart. No
 * estimate/ import here: which model ids exist is checked in main.ts.
 */
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ACTIVATIONS,
  ATTENTIONS,
  CHECKPOINTS,
  ConfigError,
  DEFAULT_PLAN,
  FRAMEWORKS,
  GUIDANCES,
  KV_DTYPES,
  LOGITS,
  MODES,
  OFFLOAD_PARTS,
  OFFLOAD_TARGETS,
  OPTIMIZER_DTYPES,
  OPTIMIZER_IMPLS,
  PIPELINE_OFFLOADS,
  VAE_DECODES,
  OPTIMIZERS,
  PP_SCHEDULES,
  PRECISIONS,
  ZERO_STAGES,
  parsePlanConfig,
  type PlanConfig,
} from '../protocol/config.ts';
import {
  DEFAULT_GPT_LR,
  DEFAULT_LR,
  DEFAULT_RUN,
  GPT_CHECKPOINTS,
  GPT_NANO_RUN,
  RUN_CHECKPOINTS,
  RUN_OPTIMIZERS,
  RUN_PRECISIONS,
  parseGptRunConfig,
  parseLlamaRunConfig,
  parseRunConfig,
  type GptRunConfig,
  type LlamaRunConfig,
  type RunConfig,
} from '../protocol/run.ts';
import { LLAMA_RUN_MODELS, llamaRunOf } from '../estimate/vramlab-llama.ts';
import { resolveModel } from '../estimate/presets.ts';
import { CNN_MODELS, DEFAULT_CNN_LR, DEFAULT_CNN_RUN, parseCnnRunConfig, type CnnRunConfig } from '../protocol/cnn.ts';
import { getPath, setPath } from '../protocol/paths.ts';
import { MAX_HF_CONFIG_BYTES } from '../protocol/hf-config.ts';
import { isModelRef, resolveModelConfig } from './hf-cache.ts';
import { INPUT_FILE_ERROR, readBoundedText } from './read-bounded.ts';

/** Bad command-line input: `message` is the one line the user sees, naming the flag. */
/**
 * VRAMLAB_OPTIMIZER: how `run` and `bench` launch the optimizer phase; 'fused' (the default:
 * one dispatch over every parameter) or 'per-tensor' (one per tensor, the engine's earlier
 * launch, kept to compare).
 */
export const OPTIMIZER_LAUNCH_VALUES = ['fused', 'per-tensor'] as const;

export function optimizerLaunchFromEnv(env: Record<string, string | undefined>): (typeof OPTIMIZER_LAUNCH_VALUES)[number] {
  const v = env.VRAMLAB_OPTIMIZER;
  if (v === undefined || v === '') return 'fused';
  if ((OPTIMIZER_LAUNCH_VALUES as readonly string[]).includes(v)) return v as (typeof OPTIMIZER_LAUNCH_VALUES)[number];
  throw new UsageError(`VRAMLAB_OPTIMIZER must be one of ${OPTIMIZER_LAUNCH_VALUES.join(', ')}, got '${oneLineValue(v)}'; unset it for the default (fused)`);
}

function oneLineValue(v: string): string {
  return v.length > 40 ? `${v.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')}…` : v.replace(/[^\x20-\x7e]/g, '?');
}

export class UsageError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export const FLAG_GROUPS = ['model', 'mlp', 'gpt', 'cnn', 'run', 'parallel', 'host', 'bench', 'output'] as const;
export type FlagGroup = (typeof FLAG_GROUPS)[number];

export interface FlagSpec {
  /** Kebab-case, without the leading `--`. */
  name: string;
  short?: string;
  group: FlagGroup;
  /**
   * `int`: plain decimal digits only, so typos like 1.5, 1e12 or 0x10 never get through.
   * `number`: a decimal, exponent allowed (a learning rate of 1e-3).
   */
  kind: 'int' | 'number' | 'gib' | 'enum' | 'zero' | 'bool' | 'string' | 'path';
  /** Dotted path in the command's config (PlanConfig, RunConfig) the value lands in; none for output flags. */
  field?: string;
  /** Smallest accepted int; the upper bounds are the schema's LIMITS. */
  min?: number;
  values?: readonly string[];
  /** Placeholder in the help, e.g. `N`. */
  arg?: string;
  help: string;
  /** Help text for the default when it is not simply the command's default config value. */
  defaultText?: string;
  /** `vramlab run`: the models this flag shapes; absent, all of them. */
  models?: readonly RunModel[];
  /** `vramlab run`: what differs for one model (its values, its default). */
  byModel?: Partial<Record<RunModel, Pick<FlagSpec, 'values' | 'defaultText'>>>;
}

/** `--format`: text for people, json or csv for programs and spreadsheets. */
export const OUTPUT_FORMATS = ['text', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const ESTIMATE_FLAGS: readonly FlagSpec[] = [
  { name: 'model', group: 'model', kind: 'string', field: 'model', arg: 'ID', help: 'a preset id, mlp, hf, a Hugging Face id (org/name, from the local cache) or a model folder' },
  { name: 'hf-config', group: 'model', kind: 'path', field: 'hfConfig', arg: 'PATH', help: 'a Hugging Face config.json; sets --model hf' },
  { name: 'd', group: 'model', kind: 'int', field: 'mlp.d', min: 1, arg: 'N', help: 'mlp: width of the residual stream' },
  { name: 'hidden', group: 'model', kind: 'int', field: 'mlp.hidden', min: 1, arg: 'N', help: 'mlp: width of the hidden layer' },
  { name: 'layers', group: 'model', kind: 'int', field: 'mlp.layers', min: 1, arg: 'N', help: 'mlp: number of blocks' },
  { name: 'activation', group: 'model', kind: 'enum', field: 'mlp.activation', values: ACTIVATIONS, arg: 'FN', help: 'mlp: activation function' },
  { name: 'image-size', group: 'model', kind: 'int', field: 'imageSize', min: 1, arg: 'PX', help: 'image models: input side in pixels (square, 3 channels); diffusion: the output resolution', defaultText: "the model's own (224 for ResNets)" },
  { name: 'images', group: 'model', kind: 'int', field: 'images', min: 1, arg: 'N', help: 'vision-language models: images per sample; their tokens join the --seq text tokens', defaultText: '1' },
  { name: 'max-pixels', group: 'model', kind: 'int', field: 'maxPixels', min: 1, arg: 'N', help: 'Qwen2-VL-style models: pixel budget per image (the processor resizes to fit)', defaultText: '12845056' },
  { name: 'steps', group: 'model', kind: 'int', field: 'steps', min: 1, arg: 'N', help: 'diffusion inference: denoising steps (time, not memory)', defaultText: "the pipeline's" },
  { name: 'guidance', group: 'model', kind: 'enum', field: 'guidance', values: GUIDANCES, arg: 'G', help: 'diffusion inference: classifier-free guidance doubles the denoiser batch', defaultText: 'cfg, none for flux-dev' },
  { name: 'vae-decode', group: 'model', kind: 'enum', field: 'vaeDecode', values: VAE_DECODES, arg: 'MODE', help: 'diffusion inference: decode all at once, one image at a time, or in tiles', defaultText: 'full' },
  { name: 'pipeline-offload', group: 'model', kind: 'enum', field: 'pipelineOffload', values: PIPELINE_OFFLOADS, arg: 'MODE', help: "diffusion inference: Diffusers' CPU offload (model: the running component on the GPU; sequential: its running layer)", defaultText: 'none' },
  { name: 'prior-preservation', group: 'model', kind: 'bool', field: 'priorPreservation', help: 'diffusion training: DreamBooth prior preservation (instance + class images: batch doubled)' },
  { name: 'train-text-encoder', group: 'model', kind: 'bool', field: 'trainTextEncoder', help: 'diffusion training: train the text encoder too' },
  { name: 'mode', group: 'run', kind: 'enum', field: 'mode', values: MODES, arg: 'MODE', help: 'a training step or an inference forward' },
  { name: 'batch', group: 'run', kind: 'int', field: 'batch', min: 1, arg: 'N', help: 'samples per GPU per optimizer step' },
  { name: 'micro-batch', group: 'run', kind: 'int', field: 'microBatch', min: 1, arg: 'N', help: 'samples per forward/backward (gradient accumulation); must divide --batch', defaultText: '= --batch' },
  { name: 'seq', group: 'run', kind: 'int', field: 'seq', min: 1, arg: 'N', help: 'tokens per sample; for inference the context in the KV cache' },
  { name: 'precision', group: 'run', kind: 'enum', field: 'precision', values: PRECISIONS, arg: 'P', help: 'storage and compute precision' },
  { name: 'optimizer', group: 'run', kind: 'enum', field: 'optimizer', values: OPTIMIZERS, arg: 'OPT', help: 'optimizer (its states are per parameter)' },
  { name: 'checkpoint', group: 'run', kind: 'enum', field: 'checkpoint', values: CHECKPOINTS, arg: 'C', help: 'activation checkpointing' },
  { name: 'attention', group: 'run', kind: 'enum', field: 'attention', values: ATTENTIONS, arg: 'A', help: 'eager keeps the s×s scores, fused (flash) does not' },
  { name: 'lora-rank', group: 'run', kind: 'int', field: 'loraRank', min: 0, arg: 'R', help: 'LoRA rank on attention and MLP projections; 0 = full fine-tuning' },
  { name: 'qlora', group: 'run', kind: 'bool', field: 'qlora', help: '4-bit NF4 frozen base under the LoRA adapters (needs --lora-rank)' },
  { name: 'zero', group: 'run', kind: 'zero', field: 'zero', values: ZERO_STAGES.map(String), arg: 'STAGE', help: 'ZeRO sharding stage across --gpus' },
  { name: 'gpus', group: 'run', kind: 'int', field: 'gpus', min: 1, arg: 'N', help: 'data-parallel GPUs (ZeRO shards over them)' },
  { name: 'capacity-factor', group: 'run', kind: 'number', field: 'capacityFactor', arg: 'X', help: 'MoE training: pad every expert to ⌈X·tokens·k/E⌉ rows, as GShard/Megatron do', defaultText: 'dropless (transformers)' },
  { name: 'ep', group: 'run', kind: 'int', field: 'ep', min: 1, arg: 'N', help: 'expert parallel (MoE models): experts split over groups of N of the --gpus', defaultText: '1' },
  { name: 'framework', group: 'run', kind: 'enum', field: 'framework', values: FRAMEWORKS, arg: 'F', help: 'predict a PyTorch eager run or this engine' },
  { name: 'gpu-memory', group: 'run', kind: 'gib', field: 'gpuMemoryGiB', arg: 'GiB', help: 'your GPU size, added to the fit list' },
  { name: 'optimizer-impl', group: 'run', kind: 'enum', field: 'optimizerImpl', values: OPTIMIZER_IMPLS, arg: 'IMPL', help: "torch.optim's step: foreach keeps a temporary for all states, fused none, for-loop one tensor's", defaultText: 'foreach' },
  { name: 'optimizer-dtype', group: 'run', kind: 'enum', field: 'optimizerDtype', values: OPTIMIZER_DTYPES, arg: 'D', help: 'dtype of the optimizer states', defaultText: 'fp32 (mixed precision), else the parameters\'' },
  { name: 'kv-dtype', group: 'run', kind: 'enum', field: 'kvDtype', values: KV_DTYPES, arg: 'D', help: 'inference: KV-cache storage (q8_0 34 B and q4_0 18 B per 32 values)', defaultText: 'the compute dtype' },
  { name: 'logits', group: 'run', kind: 'enum', field: 'logits', values: LOGITS, arg: 'L', help: 'inference: logits of the last position (generate) or of all (a plain forward)', defaultText: 'last' },
  { name: 'tp', group: 'parallel', kind: 'int', field: 'parallel.tp', min: 1, arg: 'N', help: 'tensor parallel: heads, MLP columns and vocabulary split N ways', defaultText: '1' },
  { name: 'sp', group: 'parallel', kind: 'bool', field: 'parallel.sp', help: 'sequence parallel: what --tp replicates is split too (needs --tp 2+)' },
  { name: 'pp', group: 'parallel', kind: 'int', field: 'parallel.pp', min: 1, arg: 'N', help: 'pipeline stages (per-stage figures, the worst first)', defaultText: '1' },
  { name: 'microbatches', group: 'parallel', kind: 'int', field: 'parallel.microbatches', min: 1, arg: 'M', help: 'micro-batches per step through the pipeline; must divide --batch', defaultText: '= --pp' },
  { name: 'pp-schedule', group: 'parallel', kind: 'enum', field: 'parallel.ppSchedule', values: PP_SCHEDULES, arg: 'S', help: 'pipeline schedule: micro-batches in flight per stage', defaultText: '1f1b' },
  { name: 'virtual-stages', group: 'parallel', kind: 'int', field: 'parallel.virtualStages', min: 1, arg: 'V', help: 'model chunks per stage under --pp-schedule interleaved', defaultText: '2' },
  { name: 'cp', group: 'parallel', kind: 'int', field: 'parallel.cp', min: 1, arg: 'N', help: 'context parallel: the sequence split N ways, keys and values exchanged in a ring', defaultText: '1' },
  { name: 'offload', group: 'host', kind: 'enum', field: 'offload', values: OFFLOAD_PARTS, arg: 'WHAT', help: 'training: keep optimizer states (+ master weights, gradients), 16-bit params (--zero 3), both, or checkpointed activations on the host; comma-separated for several', defaultText: 'none' },
  { name: 'offload-to', group: 'host', kind: 'enum', field: 'offload.to', values: OFFLOAD_TARGETS, arg: 'T', help: 'where offloaded states go (nvme: host RAM keeps pinned staging buffers)', defaultText: 'cpu' },
  { name: 'host-memory', group: 'host', kind: 'gib', field: 'hostMemoryGiB', arg: 'GiB', help: 'host RAM per node: the second budget once anything lives on the host' },
  { name: 'gpus-per-node', group: 'host', kind: 'int', field: 'gpusPerNode', min: 1, arg: 'N', help: 'GPUs sharing one host', defaultText: '8 (or --gpus when fewer)' },
  { name: 'gpu-layers', group: 'host', kind: 'int', field: 'gpuLayers', min: 0, arg: 'N', help: 'inference: the last N layers on the GPU, the rest on the host (llama.cpp -ngl); layers + 1 puts the output layer there too', defaultText: 'all' },
  { name: 'kv-on-host', group: 'host', kind: 'bool', field: 'kvOnHost', help: 'inference: the KV cache in host memory (llama.cpp --no-kv-offload)' },
  { name: 'json', group: 'output', kind: 'bool', help: 'print the plan as one JSON object' },
  { name: 'format', group: 'output', kind: 'enum', values: OUTPUT_FORMATS, arg: 'F', help: 'text, json (as --json) or csv (the breakdown the page exports)', defaultText: 'text' },
  { name: 'help', short: 'h', group: 'output', kind: 'bool', help: 'show this help' },
];

/**
 * The models `vramlab run` trains; `--model gpt-nano` names the preset the gpt flags start
 * from, a llama-family preset (llama-3.2-1b …) the Llama run of its shape, which the run then
 * scales to the device; cnn is `--model cnn-mnist|cnn-cifar`.
 */
export const RUN_MODELS = ['mlp', 'gpt', 'llama', 'cnn'] as const;
export type RunModel = (typeof RUN_MODELS)[number];
const RUN_MODEL_IDS = ['mlp', 'gpt', 'gpt-nano', ...LLAMA_RUN_MODELS, ...CNN_MODELS] as const;

/** A Llama preset's run at full size, with gpt-nano's step settings. */
export function llamaPresetRun(id: string): LlamaRunConfig {
  const n = GPT_NANO_RUN;
  const step = { seq: n.seq, batch: n.batch, attention: n.attention, precision: n.precision, optimizer: n.optimizer, checkpoint: n.checkpoint, steps: n.steps, seed: n.seed };
  return llamaRunOf(resolveModel({ ...DEFAULT_PLAN, model: id }) as Parameters<typeof llamaRunOf>[0], step);
}

/** Where each model's flags start: `--model gpt` is gpt-nano until a flag says otherwise; llama shows llama-3.2-1b. */
export const RUN_DEFAULTS: { mlp: RunConfig; gpt: GptRunConfig; llama: LlamaRunConfig; cnn: CnnRunConfig } = { mlp: DEFAULT_RUN, gpt: GPT_NANO_RUN, llama: llamaPresetRun('llama-3.2-1b'), cnn: DEFAULT_CNN_RUN };

export type AnyRunConfig = RunConfig | GptRunConfig | LlamaRunConfig | CnnRunConfig;

/** What `--sweep` may vary per model: each value is checked as if given as that flag. */
export const SWEEP_KEYS: Record<RunModel, readonly string[]> = { mlp: ['batch', 'layers'], gpt: ['seq', 'batch', 'layers'], llama: ['seq', 'batch', 'layers'], cnn: ['batch', 'blocks'] };
export const SWEEP_POINTS = { min: 2, max: 16 } as const;

/** `--lr` default text from the engine's own table, so the help cannot drift from it. */
const lrText = (lrs: Record<string, number>) =>
  Object.entries(lrs)
    .map(([o, x]) => `${o} ${x}`)
    .join(', ');

/**
 * `vramlab run`: the engine trains the mlp or the gpt model for real, so only what
 * RunConfigSchema and GptRunConfigSchema take. `models` marks the flags that shape one model
 * only (given with the other, a usage error); `byModel` what differs between the two. The upper
 * bounds are the schemas' (LIMITS, RUN_LIMITS); what the device takes is the ledger's.
 */
export const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'model', group: 'model', kind: 'enum', field: 'model', values: RUN_MODEL_IDS, arg: 'ID', help: 'the model the engine trains; gpt-nano = gpt with its defaults; cnn-mnist (LeNet-5), cnn-cifar (ResNet-20)', defaultText: 'mlp' },
  { name: 'layers', group: 'model', models: ['mlp', 'gpt', 'llama'], kind: 'int', field: 'layers', min: 1, arg: 'N', help: 'number of blocks (a Llama preset scaled to the device keeps this depth)' },
  { name: 'd', group: 'mlp', models: ['mlp'], kind: 'int', field: 'd', min: 1, arg: 'N', help: 'width of the residual stream' },
  { name: 'hidden', group: 'mlp', models: ['mlp'], kind: 'int', field: 'hidden', min: 1, arg: 'N', help: 'width of the hidden layer' },
  { name: 'activation', group: 'mlp', models: ['mlp'], kind: 'enum', field: 'activation', values: ACTIVATIONS, arg: 'FN', help: 'activation function' },
  { name: 'vocab', group: 'gpt', models: ['gpt'], kind: 'int', field: 'vocab', min: 2, arg: 'N', help: 'tokens in the vocabulary (the LM head is tied to the embedding)' },
  { name: 'd-model', group: 'gpt', models: ['gpt'], kind: 'int', field: 'dModel', min: 1, arg: 'N', help: 'width of the residual stream' },
  { name: 'heads', group: 'gpt', models: ['gpt'], kind: 'int', field: 'heads', min: 1, arg: 'N', help: 'attention heads; must divide --d-model' },
  { name: 'seq', group: 'gpt', models: ['gpt', 'llama'], kind: 'int', field: 'seq', min: 1, arg: 'N', help: 'tokens per sample' },
  { name: 'attention', group: 'gpt', models: ['gpt', 'llama'], kind: 'enum', field: 'attention', values: ['eager', 'fused'], arg: 'A', help: 'eager keeps the b·heads·seq² probabilities, fused keeps row statistics' },
  { name: 'lora-rank', group: 'gpt', models: ['gpt', 'llama'], kind: 'int', field: 'loraRank', min: 0, arg: 'R', help: 'LoRA adapters of rank R on the block projections (gpt: Wqkv, Wo, W1, W2; llama: Wqkv, Wo, Wgu, Wd); the base is frozen (0 = full fine-tuning)', defaultText: '0' },
  { name: 'lora-alpha', group: 'gpt', models: ['gpt', 'llama'], kind: 'number', field: 'loraAlpha', arg: 'X', help: "LoRA's alpha: the adapters' product is scaled by alpha / rank", defaultText: '2 × rank' },
  { name: 'qlora', group: 'gpt', models: ['gpt', 'llama'], kind: 'bool', field: 'qlora', help: 'store the frozen projections in NF4 (4-bit, one scale per 64 values); needs --lora-rank' },
  { name: 'blocks', group: 'cnn', models: ['cnn'], kind: 'int', field: 'blocks', min: 1, arg: 'N', help: 'cnn-cifar: basic blocks per stage (3: ResNet-20, 1: ResNet-8)' },
  { name: 'width', group: 'cnn', models: ['cnn'], kind: 'int', field: 'width', min: 1, arg: 'N', help: 'cnn-cifar: channels of the first stage (16; the next stages double it)' },
  { name: 'batch', group: 'run', kind: 'int', field: 'batch', min: 1, arg: 'N', help: 'samples per step' },
  { name: 'precision', group: 'run', kind: 'enum', field: 'precision', values: RUN_PRECISIONS, arg: 'P', help: 'storage and compute precision' },
  { name: 'optimizer', group: 'run', kind: 'enum', field: 'optimizer', values: RUN_OPTIMIZERS, arg: 'OPT', help: 'optimizer (its states are per parameter)' },
  {
    name: 'checkpoint',
    group: 'run',
    kind: 'enum',
    field: 'checkpoint',
    values: GPT_CHECKPOINTS,
    byModel: { mlp: { values: RUN_CHECKPOINTS }, cnn: { values: RUN_CHECKPOINTS } },
    arg: 'C',
    help: 'activation checkpointing; selective (gpt) recomputes only the attention core',
  },
  { name: 'steps', group: 'run', kind: 'int', field: 'steps', min: 1, arg: 'N', help: 'training steps to run' },
  { name: 'seed', group: 'run', kind: 'int', field: 'seed', min: 0, arg: 'N', help: 'seeds weights and data, so a run can be repeated' },
  {
    name: 'lr',
    group: 'run',
    kind: 'number',
    field: 'lr',
    arg: 'X',
    help: 'learning rate',
    defaultText: "the optimizer's",
    byModel: { mlp: { defaultText: lrText(DEFAULT_LR) }, gpt: { defaultText: lrText(DEFAULT_GPT_LR) }, cnn: { defaultText: lrText(DEFAULT_CNN_LR) } },
  },
  { name: 'wall-clock', group: 'run', kind: 'bool', help: 'time phases by the wall clock even where timestamp queries exist' },
  {
    name: 'sweep',
    group: 'run',
    kind: 'string',
    arg: 'KEY=V,…',
    help:
      `run once per value of KEY (${RUN_MODELS.map((m) => `${m}: ${SWEEP_KEYS[m].join(', ')}`).join('; ')}), ` +
      `${SWEEP_POINTS.min}–${SWEEP_POINTS.max} values, one after another on one device`,
  },
  { name: 'json', group: 'output', kind: 'bool', help: 'print the report as one JSON object; with --sweep one per point' },
  { name: 'format', group: 'output', kind: 'enum', values: OUTPUT_FORMATS, arg: 'F', help: 'text, json (as --json) or csv (one row per run, as the page exports results)', defaultText: 'text' },
  { name: 'trace', group: 'output', kind: 'path', arg: 'PATH', help: 'also write the Chrome trace of the last step the page exports (Perfetto, chrome://tracing)' },
  { name: 'memory-snapshot', group: 'output', kind: 'path', arg: 'PATH', help: 'also write the last step as a PyTorch memory snapshot (.pickle) for pytorch.org/memory_viz' },
  { name: 'help', short: 'h', group: 'output', kind: 'bool', help: 'show this help' },
];

/** The flags of `vramlab run` that apply to `model`, with its own values and defaults. */
export function runFlagsFor(model: RunModel): FlagSpec[] {
  return RUN_FLAGS.filter((f) => f.models === undefined || f.models.includes(model)).map((f) => ({ ...f, ...f.byModel?.[model] }));
}

/** Flags that shape only the `mlp` model; elsewhere they would be silently ignored. */
const MLP_FLAGS = ['d', 'hidden', 'layers', 'activation'];

/**
 * Flags of a training step that an inference forward has no use for; with --mode inference
 * they would be silently ignored. (--zero and --lora-rank are refused by the schema and the
 * planner, for the page too.)
 */
const TRAINING_FLAGS = ['optimizer', 'checkpoint', 'micro-batch', 'prior-preservation', 'train-text-encoder'] as const;
const TRAINING_FLAGS_WHY: Record<(typeof TRAINING_FLAGS)[number], string> = {
  optimizer: 'an inference forward updates no weights',
  checkpoint: 'without a backward there is nothing to recompute',
  'micro-batch': 'gradient accumulation needs gradients',
  'prior-preservation': 'DreamBooth is a way to train',
  'train-text-encoder': 'inference trains nothing',
};
/** Diffusion sampling settings: a training step runs one denoiser forward on noised latents and decodes nothing. */
const INFERENCE_FLAGS = ['steps', 'guidance', 'vae-decode', 'pipeline-offload'] as const;

export interface EstimateArgs {
  config: PlanConfig;
  json: boolean;
  /** --format; `json` also when --json is given. */
  format: OutputFormat;
  help: boolean;
  /** As typed, so errors about its content can name the file. */
  hfConfigPath?: string;
  /** Flag names the user gave, without `--`: checks that depend on the model need them. */
  given: string[];
}

/** `--sweep KEY=V1,V2,…`: one validated config per value, in the order given. */
export interface Sweep {
  key: string;
  points: { value: number; config: AnyRunConfig }[];
}

export interface RunArgs {
  config: AnyRunConfig;
  json: boolean;
  /** --format; `json` also when --json is given. */
  format: OutputFormat;
  /** --trace and --memory-snapshot: files written from the finished run. */
  outputs: { trace?: string; memorySnapshot?: string };
  help: boolean;
  wallClock: boolean;
  sweep?: Sweep;
  /** A Llama run with --layers given (or swept): scaled to the device, it keeps that depth instead of dividing it. */
  depthGiven?: boolean;
}

/** The work `vramlab bench --only` picks. */
export const BENCH_KINDS = ['matmul', 'mlp', 'gpt'] as const;
export type BenchKindFlag = (typeof BENCH_KINDS)[number];

/** `vramlab bench`: output flags only; the work is fixed (bench.ts) so runs compare over time. */
export const BENCH_FLAGS: readonly FlagSpec[] = [
  { name: 'quick', group: 'bench', kind: 'bool', help: 'small shapes a CPU adapter (SwiftShader) finishes in seconds, as CI runs it' },
  { name: 'only', group: 'bench', kind: 'enum', values: BENCH_KINDS, arg: 'KIND', help: 'run one kind of work only', defaultText: 'all' },
  { name: 'iters', group: 'bench', kind: 'int', min: 1, arg: 'N', help: 'timed iterations per work item', defaultText: '3 with --quick, else 10' },
  { name: 'no-tfjs', group: 'bench', kind: 'bool', help: 'vramlab only, no TensorFlow.js column' },
  { name: 'variants', group: 'bench', kind: 'bool', help: 'also time split-K and the register prefetch against the plain tiled kernel on the largest matmul line', defaultText: 'on, off with --quick' },
  { name: 'tune', group: 'bench', kind: 'bool', help: 'time every matmul tile size on this adapter first and keep the fastest (cached per adapter)' },
  { name: 'ab', group: 'bench', kind: 'bool', help: 'instead: the optimizer launched per tensor (a) and fused (b), alternated step by step on mlp (4 blocks) and gpt-nano; CPU time per step, b/a median and spread' },
  { name: 'json', group: 'output', kind: 'bool', help: 'one JSON object per line' },
  { name: 'help', short: 'h', group: 'output', kind: 'bool', help: 'show this help' },
];

export interface BenchArgs {
  quick: boolean;
  only?: BenchKindFlag;
  iters?: number;
  tfjs: boolean;
  tune: boolean;
  /** Time the matmul variants (split-K, prefetch); undefined: unless the shapes are quick. */
  variants?: boolean;
  ab: boolean;
  json: boolean;
  help: boolean;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const v = readFlags('bench', BENCH_FLAGS, argv);
  const flag = (name: string) => BENCH_FLAGS.find((f) => f.name === name)!;
  if (v.iters !== undefined && Number(convert(flag('iters'), v.iters)) > 1000) throw new UsageError(`--iters must be at most 1000, got '${String(v.iters)}'`, '--iters');
  return {
    quick: v.quick === true,
    ...(v.only === undefined ? {} : { only: convert(flag('only'), v.only) as BenchKindFlag }),
    ...(v.iters === undefined ? {} : { iters: convert(flag('iters'), v.iters) as number }),
    tfjs: v['no-tfjs'] !== true,
    tune: v.tune === true,
    ...(v.variants === true ? { variants: true } : {}),
    ab: v.ab === true,
    json: v.json === true,
    help: v.help === true,
  };
}

export interface ParseOptions {
  /** Reads --hf-config; injectable so tests need no files. */
  readText?: (path: string) => string;
  /** Where `--model org/name` looks for the Hugging Face cache (HF_HUB_CACHE, HF_HOME); process.env unless given. */
  env?: Record<string, string | undefined>;
  /** The command whose help errors point to: `fit` takes the estimate flags too. */
  command?: 'estimate' | 'fit' | 'compare';
}

type Command = 'estimate' | 'fit' | 'compare' | 'run' | 'bench';
type FlagValues = Record<string, string | boolean | undefined>;

/** The value a flag starts from (DEFAULT_PLAN for estimate, DEFAULT_RUN for run), for the help text. */
export function flagDefault(flag: FlagSpec, defaults: object = DEFAULT_PLAN): string | undefined {
  if (flag.defaultText !== undefined) return flag.defaultText;
  if (flag.field === undefined || flag.kind === 'bool') return undefined;
  const v = getPath(defaults, flag.field);
  return v === undefined ? undefined : String(v);
}

/** node:util parseArgs over a flag table, its errors turned into UsageErrors naming the flag. */
function readFlags(command: Command, flags: readonly FlagSpec[], argv: readonly string[]): FlagValues {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, flags),
      options: Object.fromEntries(
        flags.map((f) => [f.name, { type: f.kind === 'bool' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) }]),
      ) as Record<string, { type: 'boolean' | 'string'; short?: string }>,
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (err) {
    throw fromParseArgsError(err, command);
  }
  refuseRepeats(parsed.tokens);
  return parsed.values;
}

/**
 * parseArgs keeps the last of a repeated flag; `--batch 4 … --batch 8` is more likely a
 * mistake than a choice, so a flag with a value may be given once. A repeated switch
 * (`--json --json`) means the same either way and passes.
 */
function refuseRepeats(tokens: readonly { kind: string; name?: string; value?: string | undefined }[]): void {
  const seen = new Map<string, string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined || t.value === undefined) continue;
    const first = seen.get(t.name);
    if (first !== undefined) {
      const values = first === t.value ? `'${t.value}' both times` : `'${first}', then '${t.value}'`;
      throw new UsageError(`--${t.name} is given twice (${values}); give it once`, `--${t.name}`);
    }
    seen.set(t.name, t.value);
  }
}

/**
 * Parses `vramlab run` arguments (without the command word) into a RunConfig or GptRunConfig
 * its schema accepted, and the sweep's configs. Throws UsageError with one line naming the flag
 * for every bad input.
 */
export function parseRunArgs(argv: readonly string[]): RunArgs {
  const values = readFlags('run', RUN_FLAGS, argv);
  const format = outputFormat(values);
  const switches = { json: format === 'json', format, help: values.help === true, wallClock: values['wall-clock'] === true, outputs: runOutputPaths(values) };
  if (switches.help) return { config: structuredClone(DEFAULT_RUN), ...switches };

  const modelFlag = RUN_FLAGS.find((f) => f.name === 'model')!;
  const id = values.model === undefined ? 'mlp' : String(convert(modelFlag, values.model));
  const model: RunModel = id === 'mlp' ? 'mlp' : (LLAMA_RUN_MODELS as readonly string[]).includes(id) ? 'llama' : (CNN_MODELS as readonly string[]).includes(id) ? 'cnn' : 'gpt';
  const flags = runFlagsFor(model);
  const stray = RUN_FLAGS.find((f) => values[f.name] !== undefined && !flags.some((g) => g.name === f.name));
  if (stray) {
    const shape = flags.filter((f) => f.models?.includes(model)).map((f) => `--${f.name}`);
    const takes = shape.length > 0 ? `--model ${model} takes ${shape.join(', ')}` : `--model ${model} takes no shape flags`;
    throw new UsageError(`--${stray.name} shapes --model ${stray.models!.join(', ')} only; ${takes}`, `--${stray.name}`);
  }

  const config: Record<string, unknown> = model === 'llama' ? llamaPresetRun(id) : structuredClone(RUN_DEFAULTS[model]);
  if (model === 'cnn') config.model = id;
  const given = new Map<string, string>();
  for (const flag of flags) {
    const raw = values[flag.name];
    if (raw === undefined || flag.field === undefined || flag.name === 'model') continue;
    if (typeof raw === 'string') given.set(flag.name, raw);
    setPath(config, flag.field, convert(flag, raw));
  }
  const parsed = validateRun(model, config, given, flags);
  const sweepRaw = values.sweep;
  const depthGiven = model === 'llama' && (given.has('layers') || (typeof sweepRaw === 'string' && sweepRaw.startsWith('layers=')));
  if (typeof sweepRaw !== 'string') return { config: parsed, ...switches, ...(depthGiven ? { depthGiven } : {}) };
  const file = (['trace', 'memory-snapshot'] as const).find((f) => values[f] !== undefined);
  if (file) throw new UsageError(`--${file} writes the file of one run; drop --sweep, or run each point on its own`, `--${file}`);
  return { config: parsed, ...switches, ...(depthGiven ? { depthGiven } : {}), sweep: parseSweep(sweepRaw, model, parsed, flags, given) };
}

function validateRun(model: RunModel, config: unknown, given: ReadonlyMap<string, string>, flags: readonly FlagSpec[]): AnyRunConfig {
  try {
    return model === 'llama' ? parseLlamaRunConfig(config) : model === 'gpt' ? parseGptRunConfig(config) : model === 'cnn' ? parseCnnRunConfig(config) : parseRunConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) throw usageFromConfigError(err, given, flags);
    throw err;
  }
}

/**
 * `KEY=V1,V2,…` into one config per value, each value checked as if the user had typed
 * `--KEY V` with the other flags, so the sweep refuses up front what a single run would.
 */
function parseSweep(raw: string, model: RunModel, base: AnyRunConfig, flags: readonly FlagSpec[], given: ReadonlyMap<string, string>): Sweep {
  const keys = SWEEP_KEYS[model];
  const m = /^([^=]*)=(.*)$/s.exec(raw);
  if (!m) throw new UsageError(`--sweep takes KEY=V1,V2,… with KEY one of ${keys.join(', ')}; got '${raw}'`, '--sweep');
  const key = m[1]!;
  const list = m[2]!;
  if (!keys.includes(key)) {
    const other = RUN_MODELS.filter((x) => x !== model && SWEEP_KEYS[x].includes(key));
    const why = other.length > 0 ? `${key} shapes --model ${other.join(', ')} only` : `no such key '${key}'`;
    throw new UsageError(`--sweep: ${why}; --model ${model} sweeps ${keys.join(', ')}`, '--sweep');
  }
  if (given.has(key)) throw new UsageError(`--sweep ${key}=… and --${key} both set ${key}; drop --${key}`, '--sweep');
  const items = list.split(',');
  if (items.length < SWEEP_POINTS.min || items.length > SWEEP_POINTS.max) {
    throw new UsageError(`--sweep ${key}= takes ${SWEEP_POINTS.min} to ${SWEEP_POINTS.max} values separated by commas; got ${items.length}`, '--sweep');
  }
  const flag = flags.find((f) => f.name === key)!;
  const points = items.map((item) => {
    try {
      const config: Record<string, unknown> = structuredClone(base);
      const value = convert(flag, item) as number;
      setPath(config, flag.field!, value);
      return { value, config: validateRun(model, config, new Map([...given, [key, item]]), flags) };
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`--sweep ${key}=${list}: ${err.message}`, '--sweep');
      throw err;
    }
  });
  return { key, points };
}

/**
 * Parses `vramlab estimate` arguments (without the command word). Throws UsageError with one
 * line naming the flag for every bad input, including the schema's own checks.
 */
export function parseEstimateArgs(argv: readonly string[], opts: ParseOptions = {}): EstimateArgs {
  const readText = opts.readText ?? ((p: string) => readBoundedText(resolve(p), MAX_HF_CONFIG_BYTES));
  const values = readFlags(opts.command ?? 'estimate', ESTIMATE_FLAGS, argv);
  const format = outputFormat(values);

  if (values.help === true) return { config: structuredClone(DEFAULT_PLAN), json: format === 'json', format, help: true, given: [] };

  const config: Record<string, unknown> = structuredClone(DEFAULT_PLAN);
  const given = new Map<string, string>();
  for (const flag of ESTIMATE_FLAGS) {
    const raw = values[flag.name];
    if (raw === undefined || flag.field === undefined) continue;
    if (typeof raw === 'string') given.set(flag.name, raw);
    if (flag.kind === 'path') continue;
    if (flag.name === 'offload') {
      const parts = String(raw)
        .split(',')
        .map((x) => convert(flag, x) as string);
      const has = (p: string) => parts.includes(p) || parts.includes('both');
      setPath(config, 'offload.optimizer', has('optimizer'));
      setPath(config, 'offload.params', has('params'));
      setPath(config, 'offload.activations', parts.includes('activations'));
      continue;
    }
    setPath(config, flag.field, convert(flag, raw));
  }

  // `--model org/name` or `--model path/to/folder`: that model's config.json, read as --hf-config.
  const modelRef = typeof values.model === 'string' && isModelRef(values.model) ? values.model : undefined;
  if (modelRef !== undefined && values['hf-config'] !== undefined) throw new UsageError(`--model ${modelRef} names a config.json already; drop --hf-config`, '--model');
  const hfPath = modelRef === undefined ? values['hf-config'] : modelConfigPath(modelRef, opts);
  if (modelRef !== undefined) given.delete('model');
  if (typeof hfPath === 'string') {
    if (given.has('model') && config.model !== 'hf') {
      throw new UsageError(`--hf-config sets the model to hf; drop --model ${String(config.model)}`, '--hf-config');
    }
    config.model = 'hf';
    config.hfConfig = readHfConfig(hfPath, readText);
  } else if (config.model === 'hf') {
    throw new UsageError('--model hf needs --hf-config path/to/config.json', '--model');
  }

  if (config.model !== 'mlp') {
    const stray = MLP_FLAGS.find((n) => given.has(n));
    if (stray) throw new UsageError(`--${stray} shapes --model mlp only; model '${String(config.model)}' has its own shape`, `--${stray}`);
  }
  if (config.mode === 'inference') {
    const stray = TRAINING_FLAGS.find((n) => given.has(n) || values[n] !== undefined);
    if (stray) throw new UsageError(`--${stray} applies to training only; drop it with --mode inference (${TRAINING_FLAGS_WHY[stray]})`, `--${stray}`);
  } else {
    const stray = INFERENCE_FLAGS.find((n) => given.has(n));
    if (stray) throw new UsageError(`--${stray} applies to sampling only; add --mode inference (a training step runs one denoiser forward and decodes nothing)`, `--${stray}`);
  }

  try {
    const parsed = parsePlanConfig(config);
    const names = ESTIMATE_FLAGS.filter((f) => values[f.name] !== undefined).map((f) => f.name);
    return { config: parsed, json: format === 'json', format, help: false, given: names, ...(typeof hfPath === 'string' ? { hfConfigPath: hfPath } : {}) };
  } catch (err) {
    if (err instanceof ConfigError) throw usageFromConfigError(err, given);
    throw err;
  }
}

export interface FitArgs extends EstimateArgs {
  /** --gpu-memory: the capacity to fit, GiB. */
  capacityGiB: number;
}

/**
 * `vramlab fit`: the estimate flags (parsed by parseEstimateArgs, so the two cannot differ), with
 * --gpu-memory required as the capacity to fit.
 */
export function parseFitArgs(argv: readonly string[], opts: ParseOptions = {}): FitArgs {
  const args = parseEstimateArgs(argv, { ...opts, command: 'fit' });
  if (args.help) return { ...args, capacityGiB: 0 };
  const gib = args.config.gpuMemoryGiB;
  if (gib === undefined) throw new UsageError('--gpu-memory is required: the GPU size to fit in GiB, e.g. --gpu-memory 24', '--gpu-memory');
  return { ...args, capacityGiB: gib };
}

/** The flag that sets a config field (`microBatch` → `--micro-batch`, `hfConfig.x` → `--hf-config`). */
export function flagForField(field: string, flags: readonly FlagSpec[] = ESTIMATE_FLAGS): string | undefined {
  const flag = flags.find((f) => field === f.field) ?? flags.find((f) => f.field !== undefined && field.startsWith(`${f.field}.`));
  return flag ? `--${flag.name}` : undefined;
}

/**
 * Rewrites a ConfigError ("microBatch: micro-batch must divide …") into a line that names the
 * flag and, when the user typed it, the value.
 */
export function usageFromConfigError(
  err: ConfigError,
  given: ReadonlyMap<string, string> = new Map(),
  flags: readonly FlagSpec[] = ESTIMATE_FLAGS,
): UsageError {
  const flag = flagForField(err.field, flags);
  const prefix = `${err.field}: `;
  const sentence = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  if (!flag) return new UsageError(sentence);
  const value = given.get(flag.slice(2));
  const shown = value === undefined || flag === '--hf-config' ? flag : `${flag} ${value}`;
  return new UsageError(`${shown}: ${sentence}`, flag);
}

/** --format, with --json as another way to say `--format json`. */
function outputFormat(values: FlagValues): OutputFormat {
  const raw = values.format;
  if (raw === undefined) return values.json === true ? 'json' : 'text';
  const format = convert({ name: 'format', group: 'output', kind: 'enum', values: OUTPUT_FORMATS, help: '' }, raw) as OutputFormat;
  if (values.json === true && format !== 'json') throw new UsageError(`--json and --format ${format} ask for two formats; give one`, '--format');
  return format;
}

/** --trace and --memory-snapshot: paths, not empty. */
function runOutputPaths(values: FlagValues): RunArgs['outputs'] {
  const path = (flag: string): string | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    if (v === '') throw new UsageError(`--${flag} needs a file path`, `--${flag}`);
    return String(v);
  };
  const trace = path('trace');
  const memorySnapshot = path('memory-snapshot');
  if (trace !== undefined && trace === memorySnapshot) throw new UsageError('--trace and --memory-snapshot name the same file; give each its own', '--memory-snapshot');
  return { ...(trace === undefined ? {} : { trace }), ...(memorySnapshot === undefined ? {} : { memorySnapshot }) };
}

function convert(flag: FlagSpec, raw: string | boolean): unknown {
  const name = `--${flag.name}`;
  if (typeof raw === 'boolean') return raw;
  switch (flag.kind) {
    case 'int': {
      const min = flag.min ?? 0;
      // Number() alone would take '1e3', '0x10', ' 8' and '' (as 0).
      if (!/^\d+$/.test(raw) || Number(raw) < min) {
        throw new UsageError(`${name} must be a whole number ≥ ${min}, got '${raw}'`, name);
      }
      return Number(raw);
    }
    case 'number':
      // The schema bounds it; this only refuses what is not a plain number ('0x10', '', 'NaN').
      if (!/^\d+(\.\d+)?([eE][-+]?\d+)?$|^\.\d+([eE][-+]?\d+)?$/.test(raw)) {
        throw new UsageError(`${name} must be a number, e.g. 0.001 or 1e-3, got '${raw}'`, name);
      }
      return Number(raw);
    case 'gib':
      if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0) {
        throw new UsageError(`${name} must be a size in GiB greater than 0, e.g. 24, got '${raw}'`, name);
      }
      return Number(raw);
    case 'enum':
    case 'zero':
      if (!flag.values!.includes(raw)) {
        throw new UsageError(`${name} must be one of ${flag.values!.join(', ')}; got '${raw}'`, name);
      }
      return flag.kind === 'zero' ? Number(raw) : raw;
    case 'string':
      if (raw === '') throw new UsageError(`${name} needs a value`, name);
      return raw;
    default:
      return raw;
  }
}

function modelConfigPath(ref: string, opts: ParseOptions): string {
  try {
    return resolveModelConfig(ref, opts.env ? { env: opts.env } : {});
  } catch (err) {
    throw new UsageError(`--model: ${(err as Error).message}`, '--model');
  }
}

function readHfConfig(path: string, readText: (p: string) => string): unknown {
  if (path === '') throw new UsageError('--hf-config needs a path to a config.json', '--hf-config');
  let text: string;
  try {
    text = readText(path);
  } catch (err) {
    // readBoundedText words its reasons; an injected reader may throw plain errno errors.
    const e = err as Error & { code?: string };
    const why = e.name === INPUT_FILE_ERROR ? e.message : e.code === 'ENOENT' ? 'no such file' : e.message;
    const hint = e.code === 'TOO_LARGE' ? "; a config.json is a few KB: pass the model's config.json, not its weights" : '';
    throw new UsageError(`--hf-config: cannot read '${path}': ${why}${hint}`, '--hf-config');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--hf-config: '${path}' is not valid JSON (${(err as Error).message})`, '--hf-config');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UsageError(`--hf-config: '${path}' must hold one JSON object, a Hugging Face config.json`, '--hf-config');
  }
  if ('_class_name' in json && !('model_type' in json)) return withComponents(path, json as Record<string, unknown>, readText);
  return json;
}

/** The model components of a Diffusers pipeline whose config.json the planner reads. */
const PIPELINE_COMPONENTS = ['unet', 'transformer', 'vae', 'text_encoder', 'text_encoder_2'] as const;

/**
 * A Diffusers model_index.json names its components as [library, class]; each one's
 * config.json sits in the folder of its name beside it. They travel with the index in
 * `_components`.
 */
function withComponents(path: string, index: Record<string, unknown>, readText: (p: string) => string): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  for (const key of PIPELINE_COMPONENTS) {
    const entry = index[key];
    if (!Array.isArray(entry) || entry[0] === null) continue;
    components[key] = readHfConfig(join(dirname(path), key, 'config.json'), readText);
  }
  return { ...index, _components: components };
}

/**
 * parseArgs refuses `--batch -3` as ambiguous; joining it to `--batch=-3` lets the number
 * check say what is wrong with the value instead.
 */
function joinNegativeValues(argv: readonly string[], flags: readonly FlagSpec[]): string[] {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const flag = a.startsWith('--') ? byName.get(a.slice(2)) : undefined;
    if (flag && flag.kind !== 'bool' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

function fromParseArgsError(err: unknown, command: Command): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return err;
  const message = (err as Error).message;
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  const flag = quoted.split(' ')[0]!;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${flag}; see vramlab ${command} --help`, flag);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted}': vramlab ${command} takes only flags; see vramlab ${command} --help`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return new UsageError(`${flag} is a switch and takes no value`, flag);
      if (/ambiguous/.test(message)) return new UsageError(`${flag} needs a value; for one that starts with '-' write ${flag}=VALUE`, flag);
      return new UsageError(`${flag} needs a value; see vramlab ${command} --help`, flag);
    default:
      return new UsageError(`${message.split('\n')[0]}; see vramlab ${command} --help`);
  }
}

