/**
 * Diffusion pipelines (Stable Diffusion 1.5, SDXL, Flux.1-dev): memory is a sequence of
 * components, not one network. Inference runs in stages (text encoders, the denoiser once per
 * step, the VAE decoder); the peak is the largest stage, each counted with the components
 * resident then (all of them; with `model` offload only the running one; with `sequential`
 * offload only its largest leaf module) and the activations of its largest block. Classifier-
 * free guidance runs the denoiser on a doubled batch. Training fine-tunes the denoiser (fully,
 * with LoRA on its attention projections, or DreamBooth with prior preservation, which doubles
 * the batch), optionally the text encoder too, while the VAE encodes the images without grad.
 */
import type { PlanConfig } from '../protocol/config.ts';
import { type CategoryBytes, type PlanTerm, zeroCategories } from '../protocol/plan.ts';
import type { DtypePlan } from './dtypes.ts';
import { type Block, type Ctx, type FluxShape, type TextEncoderShape, type UnetShape, type VaeShape, fluxBlocks, textEncoderBlocks, unetBlocks, vaeDecoderBlocks, vaeEncoderBlocks } from './diffusion-parts.ts';
import { EstimateError } from './errors.ts';
import type { Inventory, ParamTensor } from './params.ts';
import { type Schedule, type Unit, schedule, sumBytes } from './schedule.ts';

export interface DiffusionSpec {
  kind: 'diffusion';
  id: string;
  name: string;
  textEncoders: readonly TextEncoderShape[];
  denoiser: { kind: 'unet'; shape: UnetShape } | { kind: 'flux'; shape: FluxShape };
  vae: VaeShape;
  /** The resolution the pipeline was trained at (its default height and width). */
  imageSize: number;
  /** The pipeline's default number of denoising steps. */
  steps: number;
  /** Classifier-free guidance by default (SD, SDXL); Flux.1-dev is guidance-distilled. */
  cfg: boolean;
  /** The VAE's sample_size: the tile side VAE tiling decodes at. */
  vaeTile: number;
}


const VAE_SD: VaeShape = { blockOut: [128, 256, 512, 512], layersPerBlock: 2, latent: 4, quantConv: true };
const CLIP_L: TextEncoderShape = {
  kind: 'clip',
  name: 'text_encoder',
  encoder: { hidden: 768, heads: 12, headDim: 64, intermediate: 3072, act: 'quick-gelu', norm: 'layernorm', fusedQkv: false, bias: true },
  layers: 12,
  vocab: 49408,
  seq: 77,
  projection: 0,
};

export const DIFFUSION_PRESETS: Record<string, Omit<DiffusionSpec, 'kind' | 'id'>> = {
  // stable-diffusion-v1-5: CLIP ViT-L/14 text encoder, UNet2DConditionModel, AutoencoderKL.
  'sd-1.5': {
    name: 'Stable Diffusion 1.5',
    textEncoders: [CLIP_L],
    denoiser: {
      kind: 'unet',
      shape: { inChannels: 4, blockOut: [320, 640, 1280, 1280], layersPerBlock: 2, crossAttn: [true, true, true, false], transformerLayers: [1, 1, 1, 1], heads: [8, 8, 8, 8], crossDim: 768, linearProj: false, addEmbedIn: 0 },
    },
    vae: VAE_SD,
    imageSize: 512,
    steps: 50,
    cfg: true,
    vaeTile: 512,
  },
  // stable-diffusion-xl-base-1.0: CLIP ViT-L + OpenCLIP ViT-bigG (with projection), a 2.6B UNet.
  sdxl: {
    name: 'Stable Diffusion XL base 1.0',
    textEncoders: [
      CLIP_L,
      {
        kind: 'clip',
        name: 'text_encoder_2',
        encoder: { hidden: 1280, heads: 20, headDim: 64, intermediate: 5120, act: 'gelu', norm: 'layernorm', fusedQkv: false, bias: true },
        layers: 32,
        vocab: 49408,
        seq: 77,
        projection: 1280,
      },
    ],
    denoiser: {
      kind: 'unet',
      shape: { inChannels: 4, blockOut: [320, 640, 1280], layersPerBlock: 2, crossAttn: [false, true, true], transformerLayers: [1, 2, 10], heads: [5, 10, 20], crossDim: 2048, linearProj: true, addEmbedIn: 2816 },
    },
    vae: VAE_SD,
    imageSize: 1024,
    steps: 50,
    cfg: true,
    vaeTile: 1024,
  },
  // FLUX.1-dev: CLIP ViT-L (pooled) + T5-v1.1-XXL encoder, a 12B DiT, a 16-channel VAE.
  'flux-dev': {
    name: 'FLUX.1-dev',
    textEncoders: [
      CLIP_L,
      {
        kind: 't5',
        name: 'text_encoder_2',
        encoder: { hidden: 4096, heads: 64, headDim: 64, intermediate: 10240, act: 'gated-gelu', norm: 'rmsnorm', fusedQkv: false, bias: false },
        layers: 24,
        vocab: 32128,
        seq: 512,
        projection: 0,
      },
    ],
    denoiser: { kind: 'flux', shape: { inChannels: 64, heads: 24, headDim: 128, double: 19, single: 38, jointDim: 4096, pooledDim: 768, guidance: true } },
    vae: { blockOut: [128, 256, 512, 512], layersPerBlock: 2, latent: 16, quantConv: false },
    imageSize: 1024,
    steps: 28,
    cfg: false,
    vaeTile: 1024,
  },
};

/** The image side's divisor: the VAE's 8×, times Flux's 2×2 packing. */
function checkSize(s: DiffusionSpec, S: number): void {
  const f = s.denoiser.kind === 'flux' ? 16 : 8;
  if (S % f !== 0) throw new EstimateError(`image size ${S}: ${s.name} needs a multiple of ${f} pixels (the VAE downsamples 8×${f === 16 ? ' and Flux packs 2×2 latents' : ''}); try ${Math.max(f, Math.round(S / f) * f)}`);
}

interface Components {
  text: Block[][];
  denoiser: Block[];
  vaeEncoder: Block[];
  vaeDecoder: Block[];
}

/** Every component's blocks at the configured image side (`tile`: the VAE decoder's tile side, when tiling). */
function components(s: DiffusionSpec, x: Ctx, S: number, decodeSide: number): Components {
  const n = S / 8;
  const textTokens = s.textEncoders.reduce((a, t) => (t.kind === 't5' ? t.seq : a), s.textEncoders[0]!.seq);
  const denoiser =
    s.denoiser.kind === 'unet' ? unetBlocks(x, s.denoiser.shape, n, n, textTokens) : fluxBlocks(x, s.denoiser.shape, (n / 2) * (n / 2), textTokens);
  return {
    text: s.textEncoders.map((t) => textEncoderBlocks(x, t)),
    denoiser,
    vaeEncoder: vaeEncoderBlocks(x, s.vae, S, S),
    vaeDecoder: vaeDecoderBlocks(x, s.vae, decodeSide / 8, decodeSide / 8),
  };
}

/** Component tensors, numbered by block in pipeline order (text encoders, denoiser, VAE). */
function numbered(c: Components): { tensors: ParamTensor[]; ranges: Record<string, [number, number]> } {
  const tensors: ParamTensor[] = [];
  const ranges: Record<string, [number, number]> = {};
  let b = 0;
  const add = (key: string, blocks: Block[]) => {
    const start = b;
    for (const bl of blocks) {
      for (const t of bl.tensors) tensors.push({ ...t, block: b });
      b++;
    }
    ranges[key] = [start, b];
  };
  c.text.forEach((t, i) => add(`text${i}`, t));
  add('denoiser', c.denoiser);
  // The VAE's parameters are the encoder's and the decoder's; both halves are one module.
  add('vaeEncoder', c.vaeEncoder);
  add('vaeDecoder', c.vaeDecoder);
  return { tensors, ranges };
}

const ctxOf = (dt: DtypePlan): Ctx => ({ dt, eager: false });

export function diffusionInventory(s: DiffusionSpec): Inventory {
  const dt: DtypePlan = { param: 4, compute: 2, residual: 2, grad: 4, autocast: false, quantizedBase: null };
  const { tensors } = numbered(components(s, ctxOf(dt), s.imageSize, s.imageSize));
  return { tensors, bufferBytes: 0, tiedHeadElems: 0 };
}

const count = (blocks: Block[]) => blocks.reduce((a, b) => a + b.tensors.reduce((x, t) => x + t.rows * t.cols, 0), 0);

export function componentParams(s: DiffusionSpec): { textEncoders: number[]; denoiser: number; vae: number } {
  const dt: DtypePlan = { param: 4, compute: 2, residual: 2, grad: 4, autocast: false, quantizedBase: null };
  const c = components(s, ctxOf(dt), s.imageSize, s.imageSize);
  return { textEncoders: c.text.map(count), denoiser: count(c.denoiser), vae: count(c.vaeEncoder) + count(c.vaeDecoder) };
}

/** Largest leaf module (a weight and its bias) of a component: what sequential offload keeps on the GPU. */
const largestLeaf = (blocks: Block[]) => {
  let most = 0;
  for (const b of blocks) {
    const ts = b.tensors;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!;
      if (!t.matmul) continue;
      const bias = ts[i + 1] && !ts[i + 1]!.matmul && ts[i + 1]!.name === `${t.name}.bias` ? ts[i + 1]!.cols : 0;
      most = Math.max(most, t.rows * t.cols + bias);
    }
  }
  return most;
};

export interface DiffusionResult {
  sched: Schedule;
  terms: PlanTerm[];
  notes: string[];
  trainable: number;
  activations: number;
}

/** The inference stages, each with the components resident and its largest working set. */
export function diffusionInference(s: DiffusionSpec, cfg: PlanConfig, dt: DtypePlan): DiffusionResult {
  const S = cfg.imageSize;
  checkSize(s, S);
  const eager = cfg.attention === 'eager';
  const x: Ctx = { dt, eager };
  const vaeMode = cfg.vaeDecode ?? 'full';
  const tiled = vaeMode === 'tiled' && S > s.vaeTile;
  const comp = components(s, x, S, tiled ? s.vaeTile : S);
  const guidance = cfg.guidance === undefined ? s.cfg : cfg.guidance === 'cfg';
  const b = cfg.batch;
  const B = guidance ? 2 * b : b; // prompt and negative prompt
  const c = dt.compute;
  const offload = cfg.pipelineOffload ?? 'none';
  const bytesOf = (blocks: Block[]) => count(blocks) * dt.param;
  const all = [...comp.text, comp.denoiser, [...comp.vaeEncoder, ...comp.vaeDecoder]];
  const resident = (running: Block[]) => (offload === 'none' ? all.reduce((a, bl) => a + bytesOf(bl), 0) : offload === 'model' ? bytesOf(running === comp.vaeDecoder ? [...comp.vaeEncoder, ...comp.vaeDecoder] : running) : largestLeaf(running) * dt.param);
  const textTokens = comp.text.length > 0 ? s.textEncoders.reduce((a, t) => a + t.seq * (t.kind === 't5' ? t.encoder.hidden : t.projection || t.encoder.hidden), 0) : 0;
  const promptEmbeds = B * textTokens * c;
  const latentSide = S / 8;
  const latents = B * s.vae.latent * latentSide * latentSide * 4;
  const maxWork = (blocks: Block[], n: number) => Math.max(...blocks.map((bl) => n * bl.work));

  // Text encoders: one layer at a time per encoder, its embeddings held afterwards.
  const textWork = Math.max(...comp.text.map((t) => maxWork(t, B)));
  const textRunning = comp.text.reduce((a, t) => (maxWork(t, B) === textWork ? t : a), comp.text[0]!);
  // The denoiser: skip tensors pushed on the way down are alive until the up path pops them.
  let skips = 0;
  let denoiseWork = 0;
  let denoiseAt = '';
  for (const bl of comp.denoiser) {
    const w = B * (bl.work + bl.input) + skips;
    if (w > denoiseWork) {
      denoiseWork = w;
      denoiseAt = bl.name;
    }
    skips += B * bl.skip;
  }
  // The decoder: slicing decodes one image at a time; tiling decodes tiles of the VAE's sample size and keeps them until blended.
  const decodeBatch = vaeMode === 'sliced' || vaeMode === 'tiled' ? 1 : b;
  const image = b * 3 * S * S * c;
  const tiles = tiled ? Math.ceil(S / (0.75 * s.vaeTile)) ** 2 * 3 * s.vaeTile * s.vaeTile * c : 0;
  const decodeWork = Math.max(...comp.vaeDecoder.map((bl) => decodeBatch * (bl.work + bl.input))) + image + tiles;

  const stages: { label: string; resident: number; act: number; inputs: number }[] = [
    { label: 'text encoders', resident: resident(textRunning), act: textWork, inputs: promptEmbeds },
    { label: `denoising (${s.denoiser.kind === 'unet' ? 'UNet' : 'transformer'}, × ${cfg.steps ?? s.steps} steps; largest at ${denoiseAt})`, resident: resident(comp.denoiser), act: denoiseWork, inputs: promptEmbeds + latents },
    { label: `VAE decode${vaeMode === 'full' ? '' : ` (${vaeMode})`}`, resident: resident(comp.vaeDecoder), act: decodeWork, inputs: latents / (guidance ? 2 : 1) },
  ];
  const points = stages.map((st) => {
    const live = zeroCategories();
    live.weights = st.resident;
    live.activations = st.act;
    live.inputs = st.inputs;
    return { label: st.label, phase: 'forward' as const, live };
  });
  const peakPoint = points.reduce((a, p) => (sumBytes(p.live) > sumBytes(a.live) ? p : a));
  const max = zeroCategories();
  for (const p of points) for (const k of Object.keys(max) as (keyof CategoryBytes)[]) max[k] = Math.max(max[k], p.live[k]);
  const sched: Schedule = { points, peak: { ...peakPoint, bytes: sumBytes(peakPoint.live) }, max, recomputedUnits: 0 };
  const p = componentParams(s);
  const offloadText = offload === 'none' ? 'every component resident' : offload === 'model' ? 'only the running component resident (enable_model_cpu_offload)' : 'only the running leaf module resident (enable_sequential_cpu_offload)';
  const terms: PlanTerm[] = [
    { category: 'weights', label: 'weights resident at the peak stage', bytes: peakPoint.live.weights, formula: `${offloadText}: text encoders ${p.textEncoders.map((n) => n.toLocaleString('en-US')).join(' + ')}, denoiser ${p.denoiser.toLocaleString('en-US')}, VAE ${p.vae.toLocaleString('en-US')} params × ${dt.param} B`, source: 'Diffusers memory guide (CPU offloading)' },
    ...stages.map(
      (st): PlanTerm => ({
        category: 'activations',
        label: `stage: ${st.label}, working set`,
        bytes: st.act,
        formula: `stage total ${gib(st.resident + st.act + st.inputs)} = resident weights ${gib(st.resident)} + this working set + latents and prompt embeddings ${gib(st.inputs)}`,
        source: 'Diffusers pipelines; PyTorch SDPA',
      }),
    ),
  ];
  const notes = [
    `peak stage: ${peakPoint.label}`,
    guidance ? `classifier-free guidance: the denoiser and text encoders run on ${B} sequences (prompt + negative prompt for ${b})` : `no classifier-free guidance: the denoiser runs on ${b} sample${b === 1 ? '' : 's'}`,
    `steps (${cfg.steps ?? s.steps}) change time, not memory: every step reuses the same buffers`,
  ];
  if (vaeMode === 'tiled' && !tiled) notes.push(`VAE tiling has no effect at ${S} px: tiles are ${s.vaeTile} px`);
  return { sched, terms, notes, trainable: 0, activations: Math.max(textWork, denoiseWork, decodeWork) };
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

export interface TrainHelpers {
  /** Optimizer state bytes and step temporaries for these trainable tensors (plan.ts's optimizerState). */
  optimizer: (tensors: { numel: number; rows: number; cols: number; block: number }[], stateBytes: number) => { bytes: number; temp: number; formula: string; source: string };
}

/**
 * Fine-tuning the denoiser (Diffusers' train_text_to_image, train_dreambooth and their LoRA
 * versions): the frozen VAE and text encoders in the 16-bit weight dtype under mixed
 * precision, the VAE encoding the batch without grad, the text encoder without grad unless
 * trained, then the denoiser's forward and backward and the optimizer step.
 */
export function diffusionTrain(s: DiffusionSpec, cfg: PlanConfig, dt: DtypePlan, h: TrainHelpers): DiffusionResult {
  const S = cfg.imageSize;
  checkSize(s, S);
  const x: Ctx = { dt, eager: cfg.attention === 'eager' };
  const comp = components(s, x, S, S);
  const { tensors, ranges } = numbered(comp);
  const dreambooth = cfg.priorPreservation === true;
  const b = (cfg.microBatch ?? cfg.batch) * (dreambooth ? 2 : 1);
  const lora = cfg.loraRank > 0;
  const trainText = cfg.trainTextEncoder === true;
  const [d0, d1] = ranges.denoiser!;
  const trainedRange = (blk: number) => (blk >= d0 && blk < d1) || (trainText && blk < ranges.text0![1] && blk >= ranges.text0![0]);
  const frozenBytes = dt.autocast ? 2 : dt.param;
  const c = dt.compute;
  // Trainable tensors: the denoiser's (and the first text encoder's), or LoRA adapters on their attention projections.
  const base = tensors.filter((t) => trainedRange(t.block));
  const r = cfg.loraRank;
  const trainable = lora
    ? base.filter((t) => t.loraTarget).flatMap((t) => [
        { numel: t.rows * r, rows: t.rows, cols: r, block: t.block },
        { numel: r * t.cols, rows: r, cols: t.cols, block: t.block },
      ])
    : base.map((t) => ({ numel: t.rows * t.cols, rows: t.rows, cols: t.cols, block: t.block }));
  if (lora && trainable.length === 0) throw new EstimateError(`${s.name}: no attention projections to adapt`);
  const trainCount = trainable.reduce((a, t) => a + t.numel, 0);
  const adapterBytes = dt.autocast ? 4 : dt.param;
  const gradPer = lora ? adapterBytes : dt.grad;
  const persistent = zeroCategories();
  const allParams = tensors.reduce((a, t) => a + t.rows * t.cols, 0);
  const baseTrained = base.reduce((a, t) => a + t.rows * t.cols, 0);
  if (lora) {
    persistent.weights = allParams * frozenBytes + trainCount * adapterBytes;
  } else {
    persistent.weights = (allParams - baseTrained) * frozenBytes + baseTrained * dt.param;
  }
  const opt = h.optimizer(trainable, lora ? adapterBytes : dt.autocast ? 4 : dt.param);
  persistent.optimizer = opt.bytes;
  persistent.inputs = b * 3 * S * S * 4 + b * s.textEncoders.reduce((a, t) => a + t.seq * 8, 0);

  const gradOf = new Map<number, number>();
  for (const t of trainable) gradOf.set(t.block, (gradOf.get(t.block) ?? 0) + t.numel * gradPer);
  const castOf = new Map<number, number>();
  if (dt.autocast) for (const t of tensors) if (t.matmul && trainedRange(t.block) && !lora) castOf.set(t.block, (castOf.get(t.block) ?? 0) + 2 * t.rows * t.cols);

  const units: Unit[] = [];
  const unit = (u: Partial<Unit> & Pick<Unit, 'name'>): Unit => ({ category: 'activations', saved: 0, selective: 0, checkpointInput: 0, fwdTransient: 0, bwdTransient: 0, castBytes: 0, gradBytes: 0, recomputable: false, ...u });
  // The VAE encodes the images without grad: one block at a time; the latents stay.
  const latents = b * s.vae.latent * (S / 8) ** 2 * c;
  units.push(unit({ name: 'VAE encode (no grad)', saved: latents, fwdTransient: Math.max(...comp.vaeEncoder.map((bl) => b * (bl.work + bl.input))) }));
  comp.text.forEach((blocks, i) => {
    const [t0] = ranges[`text${i}`]!;
    if (i === 0 && trainText) {
      blocks.forEach((bl, j) => units.push(unit({ name: bl.name, saved: b * bl.saved, selective: b * bl.scores, checkpointInput: b * bl.input, fwdTransient: b * bl.work, bwdTransient: b * bl.bwd, gradBytes: gradOf.get(t0 + j) ?? 0, castBytes: castOf.get(t0 + j) ?? 0, recomputable: bl.recomputable })));
    } else {
      const enc = s.textEncoders[i]!;
      units.push(unit({ name: `${enc.name} (no grad)`, saved: b * enc.seq * enc.encoder.hidden * c, fwdTransient: Math.max(...blocks.map((bl) => b * bl.work)) }));
    }
  });
  comp.denoiser.forEach((bl, j) =>
    units.push(
      unit({
        name: `${s.denoiser.kind === 'unet' ? 'UNet' : 'transformer'} ${bl.name}`,
        saved: b * bl.saved,
        selective: b * bl.scores,
        checkpointInput: b * bl.input,
        fwdTransient: b * bl.work,
        bwdTransient: b * bl.bwd,
        gradBytes: gradOf.get(d0 + j) ?? 0,
        castBytes: castOf.get(d0 + j) ?? 0,
        recomputable: bl.recomputable,
      }),
    ),
  );
  // MSE loss on the noise prediction (fp32).
  units.push(unit({ name: 'MSE loss', category: 'logits', saved: latents * (4 / c), bwdTransient: 2 * latents * (4 / c) }));
  if (cfg.checkpoint === 'selective') throw new EstimateError('checkpoint selective is for language models; diffusers checkpoints whole ResNet and transformer blocks: use full or sqrt');
  const sched = schedule({ units, persistent, checkpoint: cfg.checkpoint, gradsPersist: (cfg.microBatch ?? cfg.batch) < cfg.batch, gradBytes: trainCount * gradPer, optimizerTemp: opt.temp, castCachedUntilForwardEnd: dt.autocast });
  const p = componentParams(s);
  const m = sched.max;
  const denoiserUnits = units.filter((u) => u.name.startsWith('UNet') || u.name.startsWith('transformer'));
  const scores = denoiserUnits.reduce((a, u) => a + u.selective, 0);
  const terms: PlanTerm[] = [
    { category: 'weights', label: 'weights', bytes: m.weights, formula: lora ? `all ${allParams.toLocaleString('en-US')} params frozen × ${frozenBytes} B; adapters × ${adapterBytes} B` : `trained (${baseTrained.toLocaleString('en-US')}) × ${dt.param} B; frozen VAE and text encoders × ${frozenBytes} B`, source: 'Diffusers examples (weight_dtype for frozen components)' },
    { category: 'gradients', label: 'gradients', bytes: m.gradients, formula: `trainable params (${trainCount.toLocaleString('en-US')}) × ${gradPer} B`, source: 'Hugging Face, "Model training anatomy" (transformers docs)' },
  ];
  if (opt.bytes > 0) terms.push({ category: 'optimizer', label: `${cfg.optimizer} states`, bytes: m.optimizer, formula: opt.formula, source: opt.source });
  terms.push({ category: 'activations', label: `${s.denoiser.kind === 'unet' ? 'UNet' : 'transformer'} activations saved for backward`, bytes: denoiserUnits.reduce((a, u) => a + u.saved, 0), formula: `batch ${b}${dreambooth ? ' (instance + class images)' : ''} at ${S / 8}² latents: GroupNorm/SiLU/conv inputs per ResNet, norms, q/k/v, GEGLU per transformer block`, source: 'Diffusers UNet2DConditionModel / FluxTransformer2DModel; PyTorch autocast' });
  if (scores > 0) terms.push({ category: 'activations', label: 'attention scores (eager, N² per resolution)', bytes: scores, formula: 'heads × tokens² per attention at each resolution × (softmax out + cast)', source: 'Korthikanti et al. 2022, arXiv 2205.05198' });
  terms.push({ category: 'activationGrads', label: 'activation gradients (backward, transient)', bytes: m.activationGrads, formula: 'largest set of activation gradients alive in one block’s backward', source: 'PyTorch autocast op reference (torch.amp)' });
  terms.push({ category: 'inputs', label: 'images and token ids', bytes: m.inputs, formula: `${b} × 3 × ${S}² × 4 B + token ids`, source: 'PyTorch dtypes' });
  const notes = [
    `trains the ${s.denoiser.kind === 'unet' ? 'UNet' : 'transformer'} (${p.denoiser.toLocaleString('en-US')} params)${trainText ? ` and ${s.textEncoders[0]!.name}` : ''}${lora ? ` with LoRA rank ${r} on its attention projections` : ''}; the VAE encodes without grad`,
  ];
  if (dreambooth) notes.push('DreamBooth prior preservation: instance and class images in one batch (batch doubled)');
  notes.push('peak = torch.cuda.max_memory_allocated(): tensors only; the CUDA context and allocator caching are listed separately');
  return { sched, terms, notes, trainable: trainCount, activations: m.activations };
}

export function diffusionForwardFlops(s: DiffusionSpec, cfg: PlanConfig): { body: number; attentionCore: number; other: number } {
  const dt: DtypePlan = { param: 2, compute: 2, residual: 2, grad: 2, autocast: false, quantizedBase: null };
  const comp = components(s, ctxOf(dt), cfg.imageSize, cfg.imageSize);
  const f = (blocks: Block[]) => blocks.reduce((a, b) => a + b.flops, 0);
  const guidance = cfg.guidance === undefined ? s.cfg : cfg.guidance === 'cfg';
  const steps = cfg.mode === 'train' ? 1 : (cfg.steps ?? s.steps);
  const B = cfg.batch * (guidance && cfg.mode === 'inference' ? 2 : 1);
  return { body: B * steps * f(comp.denoiser), attentionCore: 0, other: B * comp.text.reduce((a, t) => a + f(t), 0) + cfg.batch * f(cfg.mode === 'train' ? comp.vaeEncoder : comp.vaeDecoder) };
}
