/**
 * estimate(config): the planner. Builds the parameter inventory, the per-unit activation
 * plan of the chosen framework, runs the step's schedule and reports the peak, the
 * breakdown with its formulas, the rule of thumb and the fit list.
 */
import { type PlanConfig, parsePlanConfig } from '../protocol/config.ts';
import { type CategoryBytes, type Plan, type PlanTerm, zeroCategories } from '../protocol/plan.ts';
import { dtypePlan, type DtypePlan } from './dtypes.ts';
import { EstimateError } from './errors.ts';
import { SOURCES, korthikantiLayerBytes, textbookBytes } from './formulas.ts';
import { fitList } from './gpus.ts';
import { type Inventory, type ParamTensor, inventory, numel, paramsWhere, totalParams } from './params.ts';
import { activeParams, checkMoeOptions, expertParallelInventory } from './moe.ts';
import { resolveModel } from './presets.ts';
import { layerWidths, resnetUnits, transformerLayerBytes, transformerUnits } from './pytorch.ts';
import { type Schedule, type Unit, opTimeline, schedule, sumBytes } from './schedule.ts';
import type { CnnSpec, ModelSpec, TransformerSpec } from './specs.ts';
import { checkEngineSupports } from './vramlab.ts';
import { mlpDescriptionOf } from './vramlab-mlp.ts';
import { familyInference, familyInputs, familyTerms, familyUnits, familyWorkspace, hasAttention, isImageFamily, layersOf, pipelinePlan } from './families.ts';
import { gptDescriptionOf } from './vramlab-gpt.ts';
import { describedLayout } from './describe.ts';
import { llamaDescriptionOf } from './vramlab-llama.ts';
import { planBand } from './band.ts';
import { type CommPart, type RankView } from './parallel.ts';
import { type HostPart, type StepParts, applyOffload, hostFigures, offloadOf, OFFLOAD_SOURCES } from './offload.ts';
import { FP8_COPY_BYTES, FP8_SCALE_BYTES, FP8_WEIGHT_BYTES, PRECISION_SOURCES, kvCacheBytes, optimizerStateBytes, optimizerTempBytes } from './precision-extras.ts';
import { planTraining, inferenceLayout } from './ranks.ts';
import type { HostFigures } from '../protocol/plan.ts';
import { kvCache } from './window.ts';
import { cnnGraph, cnnLayout, cnnWalk } from './cnn.ts';
import { cnnConvWorkspace, cnnTorchUnits } from './pytorch-cnn.ts';

const MiB = 2 ** 20;
/** CUDA context with cuBLAS/cuDNN loaded; seen from 300 MiB to 2 GiB depending on GPU and libraries. */
const CUDA_CONTEXT_BYTES = 500 * MiB;
/** Caching allocator: reserved − allocated at the peak, typically a few percent (block rounding, fragmentation). */
const ALLOCATOR_FRACTION = 0.06;
/** bitsandbytes block-wise 8-bit Adam: 1 B per moment + an fp32 absmax per 256-value block; tensors below 4096 values stay fp32. */
const ADAM8_BYTES = 2 + (2 * 4) / 256;
const ADAM8_MIN_SIZE = 4096;


interface Trainable {
  /** Trainable tensors (LoRA adapters replace the base as what trains); `copies` stacked matrices of rows × cols (MoE experts). */
  tensors: { numel: number; rows: number; cols: number; block: number; copies: number }[];
  count: number;
}

function trainableOf(inv: Inventory, cfg: PlanConfig, spec: ModelSpec): Trainable {
  if (cfg.loraRank === 0) {
    const tensors = inv.tensors.map((t) => ({ numel: numel(t), rows: t.rows, cols: t.cols, block: tiedBlock(t, inv, spec), copies: t.experts ?? 1 }));
    return { tensors, count: totalParams(inv) };
  }
  const targets = inv.tensors.filter((t) => t.loraTarget);
  if (targets.length === 0) throw new EstimateError(`LoRA adapts attention and MLP projections; ${spec.name} has none: use --lora-rank 0`);
  const r = cfg.loraRank;
  // A rank past a matrix's own rank adds nothing LoRA can learn, only parameters.
  const narrowest = Math.min(...targets.map((t) => Math.min(t.rows, t.cols)));
  if (r > narrowest) {
    throw new EstimateError(
      `LoRA rank ${r} is above the rank of ${spec.name}'s narrowest adapted projection (${narrowest}): an update of that matrix has rank ${narrowest} at most; use a rank of ${narrowest} or less (typically 4–64), or 0 for full fine-tuning`,
    );
  }
  // A: in×r, B: r×out per adapted matrix (Hu et al. 2021), per expert of a stacked MoE tensor.
  const tensors = targets.flatMap((t) => {
    const copies = t.experts ?? 1;
    return [
      { numel: copies * t.rows * r, rows: t.rows, cols: r, block: t.block, copies },
      { numel: copies * r * t.cols, rows: r, cols: t.cols, block: t.block, copies },
    ];
  });
  return { tensors, count: tensors.reduce((a, t) => a + t.numel, 0) };
}

/** A tied embedding's gradient first appears in the LM head's backward. */
function tiedBlock(t: ParamTensor, inv: Inventory, spec: ModelSpec): number {
  if (t.name === 'embed_tokens' && inv.tiedHeadElems > 0 && spec.kind === 'transformer') return spec.layers;
  return t.block;
}

function optimizerState(cfg: PlanConfig, tr: Trainable, stateBytes: number): { bytes: number; temp: number; formula: string; source: string } {
  const o = optimizerStateOf(cfg, tr, stateBytes);
  const largest = tr.tensors.reduce((a, t) => Math.max(a, t.numel), 0);
  const temp = cfg.optimizer === 'adafactor' ? o.temp : optimizerTempBytes(cfg.optimizerImpl, o.temp, largest * stateBytes);
  const impl = cfg.optimizerImpl === undefined || o.temp === 0 || cfg.optimizer === 'adafactor' ? '' : `; ${cfg.optimizerImpl} step: ${cfg.optimizerImpl === 'fused' ? 'no temporary' : cfg.optimizerImpl === 'for-loop' ? "one tensor's temporary" : 'a temporary for all states'}`;
  return { ...o, temp, formula: o.formula + impl };
}

function optimizerStateOf(cfg: PlanConfig, tr: Trainable, stateBytes: number): { bytes: number; temp: number; formula: string; source: string } {
  const P = tr.count;
  switch (cfg.optimizer) {
    case 'sgd':
      return { bytes: 0, temp: 0, formula: 'none', source: SOURCES.torchOptim };
    case 'sgd-momentum':
      return { bytes: P * stateBytes, temp: 0, formula: `momentum buffer: trainable params × ${stateBytes} B`, source: SOURCES.torchOptim };
    case 'adam':
    case 'adamw':
      return {
        bytes: 2 * P * stateBytes,
        temp: P * stateBytes,
        formula: `m and v: trainable params × 2 × ${stateBytes} B; step temporary sqrt(v): × ${stateBytes} B`,
        source: SOURCES.torchOptim,
      };
    case 'adafactor': {
      // Factored second moment: a row and a column vector per matrix, full for vectors.
      const bytes = tr.tensors.reduce((a, t) => a + 4 * (t.rows > 1 && t.cols > 1 ? t.copies * (t.rows + t.cols) : t.numel), 0);
      const largest = tr.tensors.reduce((a, t) => Math.max(a, t.numel), 0);
      return { bytes, temp: 2 * 4 * largest, formula: 'Σ (rows + cols) × 4 B per matrix; update temporaries of the largest tensor', source: SOURCES.adafactor };
    }
    case 'adam-8bit': {
      const bytes = tr.tensors.reduce((a, t) => a + (t.numel >= ADAM8_MIN_SIZE ? ADAM8_BYTES : 8) * t.numel, 0);
      return { bytes: Math.round(bytes), temp: 0, formula: '2 B per param + fp32 absmax per 256 values (tensors < 4096 values: 8 B)', source: SOURCES.bnb8bit };
    }
  }
}

const GiBfmt = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const formatGiB = GiBfmt;

/**
 * llama.cpp's placement (--n-gpu-layers n): the last n transformer layers on the GPU, the
 * token embedding always on the host, the output layer on the GPU once n exceeds the layers;
 * each layer's KV cache where the layer is. Without --gpu-layers everything is on the GPU.
 */
function placeOnHost(cfg: PlanConfig, spec: ModelSpec, blockBytes: (blk: number) => number): { weightsOnHost: number; kvGpuFraction: number; what: string } {
  if (cfg.gpuLayers === undefined) return { weightsOnHost: 0, kvGpuFraction: 1, what: '' };
  if (spec.kind !== 'transformer') throw new EstimateError(`--gpu-layers places transformer layers; ${spec.name} is not a transformer`);
  const L = spec.layers;
  const n = cfg.gpuLayers;
  if (n > L + 1) throw new EstimateError(`--gpu-layers ${n} is more than ${spec.name}'s ${L} layers + the output layer; use at most ${L + 1}`);
  const onHost = [-1, ...Array.from({ length: Math.max(0, L - n) }, (_, i) => i), ...(n > L ? [] : [L])];
  const weightsOnHost = onHost.reduce((a, blk) => a + blockBytes(blk), 0);
  return {
    weightsOnHost,
    kvGpuFraction: Math.min(n, L) / L,
    what: `--gpu-layers ${n}: ${n === 0 ? 'no layer' : n >= L ? 'every layer' : `layers ${L - n}–${L - 1}`}${n > L ? ' and the output layer' : ''} on the GPU; ${n >= L ? '' : `layers 0–${L - n - 1}, `}the token embedding${n > L ? '' : ' and the output layer'} on the host`,
  };
}

export function estimate(input: PlanConfig): Plan {
  const cfg = parsePlanConfig(input);
  const spec = resolveModel(cfg);
  const ep = cfg.ep ?? 1;
  checkMoeOptions(spec.kind === 'transformer' ? spec : { name: spec.name }, { ep, gpus: cfg.gpus, zero: cfg.zero, capacityFactor: cfg.capacityFactor, mode: cfg.mode });
  // Expert parallel: this GPU's share of the experts (moe.ts); the report keeps the model's count.
  const inv = spec.kind === 'transformer' ? expertParallelInventory(inventory(spec), spec, ep) : inventory(spec);
  if (cfg.framework === 'vramlab') return vramlabPlan(cfg, spec, inv);
  if (spec.kind === 'diffusion' || spec.kind === 'gan') {
    const r = pipelinePlan(spec, cfg, { optimizer: (tensors, stateBytes) => optimizerState(cfg, { tensors: tensors.map((t) => ({ copies: 1, ...t })), count: tensors.reduce((a, t) => a + t.numel, 0) }, stateBytes) });
    return finish(cfg, spec, inv, r.trainable, r.sched, r.terms, r.notes, r.activations);
  }
  if (cfg.mode === 'inference') return inferencePlan(cfg, spec, inv);
  return planTraining(cfg, spec, inv, trainPlan);
}

function finish(
  cfg: PlanConfig,
  spec: ModelSpec,
  inv: Inventory,
  trainableCount: number,
  sched: Schedule,
  terms: PlanTerm[],
  notes: string[],
  activationsForTextbook: number,
  extra: { host?: HostFigures; processGroups?: number } = {},
): Plan {
  const params = inv.modelParams ?? totalParams(inv);
  // Byte counts are JavaScript numbers: past 2^53 they stop being exact, and no GPU is near.
  const worst = Math.max(
    params,
    textbookBytes(params, activationsForTextbook),
    sched.peak.bytes * (1 + ALLOCATOR_FRACTION) + CUDA_CONTEXT_BYTES,
    ...Object.values(sched.max),
  );
  if (!Number.isSafeInteger(Math.round(worst))) {
    throw new EstimateError(
      `${spec.name} with these settings needs more than 2^53 bytes (${worst.toExponential(2)}); ` +
        'lower the layers, hidden size, vocabulary, batch or sequence length',
    );
  }
  const peakBytes = Math.round(sched.peak.bytes);
  const allocatorBytes = Math.round(peakBytes * ALLOCATOR_FRACTION);
  const totalBytes = peakBytes + allocatorBytes + CUDA_CONTEXT_BYTES;
  const round = (c: CategoryBytes): CategoryBytes => {
    const o = zeroCategories();
    for (const k of Object.keys(o) as (keyof CategoryBytes)[]) o[k] = Math.round(c[k]);
    return o;
  };
  const textbook = Math.round(textbookBytes(params, activationsForTextbook));
  return {
    model: {
      id: spec.id,
      name: spec.name,
      family: spec.kind === 'transformer' ? spec.family : spec.kind,
      params,
      trainableParams: trainableCount,
      ...(spec.kind === 'transformer' && spec.moe ? { activeParams: activeParams(inventory(spec)) } : {}),
      layers: layersOf(spec),
    },
    params,
    trainableParams: trainableCount,
    bytes: round(sched.max),
    peak: { bytes: peakBytes, phase: sched.peak.phase, alive: round(sched.peak.live), at: sched.peak.label },
    timeline: sched.points.map((p) => ({ label: p.label, phase: p.phase, bytes: round(p.live) })),
    textbook: {
      bytes: textbook,
      formula: `params × 4 B × (1 + 1 + 2) + activations = ${params.toLocaleString('en-US')} × 16 B + ${GiBfmt(activationsForTextbook)}`,
    },
    overhead: { cudaContextBytes: CUDA_CONTEXT_BYTES, allocatorBytes },
    totalBytes,
    fits: fitList(totalBytes, cfg.gpuMemoryGiB, extra.host?.fits),
    terms: terms.map((t) => ({ ...t, bytes: Math.round(t.bytes) })),
    notes,
    band: planBand(peakBytes, totalBytes, extra.processGroups ?? 0),
    ...(extra.host ? { host: extra.host } : {}),
  };
}

/** Models that are one network trained in one step (not a pipeline of components, not a GAN). */
type NetSpec = Exclude<ModelSpec, { kind: 'diffusion' | 'gan' }>;

/**
 * A training step on one GPU, or on one rank of a parallel layout (`view`: the stage's tensors
 * and units, its in-flight micro-batches and send/receive buffers; `cfg` is then the rank's own
 * config: local sequence, micro-batch, ZeRO group as `gpus`).
 */
export function trainPlan(cfg: PlanConfig, spec: NetSpec, inv: Inventory, view?: RankView): Plan {
  const N = cfg.gpus;
  const zero = cfg.zero;
  let dt = dtypePlan(cfg.precision, cfg.qlora);
  const notes: string[] = [];
  // DeepSpeed ZeRO keeps a 16-bit model and fp32 master weights inside the optimizer, not autocast.
  const deepspeedMixed = zero > 0 && dt.autocast;
  if (deepspeedMixed) dt = { ...dt, param: 2, residual: 2, autocast: false };
  const tr = trainableOf(inv, cfg, spec);
  const lora = cfg.loraRank > 0;
  const b = cfg.microBatch ?? cfg.batch;
  const accumulation = cfg.batch / b;

  // Storage of parameters.
  const masterBytesPerParam = deepspeedMixed ? 4 : dt.autocast ? 4 : 0;
  // LoRA adapters live in the base's float dtype, or fp32 over a quantized (QLoRA) base as
  // PEFT leaves them; their gradients and optimizer states follow torch.optim's param dtype.
  const adapterBytes = dt.autocast || cfg.qlora ? 4 : dt.param;
  const gradPerParam = lora ? adapterBytes : deepspeedMixed ? 2 : dt.grad;
  const persistent = zeroCategories();
  const baseMatmul = paramsWhere(inv, (t) => t.matmul);
  const baseOther = totalParams(inv) - baseMatmul;
  let weightsFormula: string;
  if (lora) {
    const matmulBytes = dt.quantizedBase ?? dt.param;
    persistent.weights = baseMatmul * matmulBytes + baseOther * dt.param + inv.bufferBytes;
    persistent.weights += tr.count * adapterBytes;
    weightsFormula = `frozen base: matmul weights × ${matmulBytes.toFixed(3)} B + others × ${dt.param} B; adapters × ${adapterBytes} B`;
  } else if (masterBytesPerParam > 0) {
    persistent.masterWeights = (tr.count * masterBytesPerParam) / (zero >= 1 ? N : 1);
    persistent.weights = deepspeedMixed ? (tr.count * 2) / (zero >= 3 ? N : 1) + inv.bufferBytes : inv.bufferBytes;
    weightsFormula = deepspeedMixed ? 'fp16/bf16 model weights × 2 B (ZeRO-3: ÷ GPUs)' : 'autocast 16-bit copies of matmul weights, made in forward, freed in backward';
  } else {
    persistent.weights = (tr.count * dt.param) / (zero >= 3 ? N : 1) + inv.bufferBytes;
    weightsFormula = `params × ${dt.param} B${zero >= 3 ? ' ÷ GPUs' : ''}`;
  }
  const stateBytes = optimizerStateBytes(cfg, lora ? adapterBytes : dt.autocast || deepspeedMixed ? 4 : dt.param);
  const opt = optimizerState(cfg, tr, stateBytes);
  persistent.optimizer = opt.bytes / (zero >= 1 ? N : 1);
  const gradShard = zero >= 2 ? N : 1;
  const gradTotal = (tr.count * gradPerParam) / gradShard;

  // Inputs: token ids and labels (int64), bert's attention mask; images (fp32) and labels.
  if (spec.kind === 'transformer') persistent.inputs = b * cfg.seq * 8 * (spec.family === 'bert' ? 3 : 2);
  else if (spec.kind === 'resnet') persistent.inputs = b * (3 * cfg.imageSize * cfg.imageSize * 4 + 8);
  else if (isImageFamily(spec)) {
    persistent.inputs = familyInputs(spec, cfg, b, dt);
    persistent.workspace += familyWorkspace(spec, cfg, b, dt);
  }
  else if (spec.kind === 'cnn') persistent.inputs = b * (spec.inChannels * spec.imageSize * spec.imageSize * 4 + 8);
  else persistent.inputs = b * spec.d * dt.compute;
  const comm: CommPart[] = [];
  if (N > 1 && zero === 0) {
    comm.push({ what: 'DDP gradient buckets', bytes: tr.count * gradPerParam, assumes: 'gradient_as_bucket_view=False: the buckets are one more gradient-sized copy' });
    notes.push('DDP keeps its gradient buckets as separate buffers (gradient_as_bucket_view=False): one more gradient-sized copy');
  }
  if (zero === 3) {
    // Gather buffer for the largest block's parameters, and the next one prefetched; FP8
    // training gathers its matmul weights in fp8 (torchao enable_fsdp_float8_all_gather).
    const perBlock = new Map<number, number>();
    for (const t of inv.tensors) perBlock.set(t.block, (perBlock.get(t.block) ?? 0) + numel(t) * (dt.fp8 && t.matmul ? 1 : 2));
    comm.push({
      what: 'ZeRO-3 / FSDP all-gather',
      bytes: 2 * Math.max(...perBlock.values()),
      assumes: `the largest block's parameters gathered in ${dt.fp8 ? 'fp8 (matmul weights) and 16 bits' : '16 bits'}, and the next block prefetched`,
    });
  }

  // 16-bit copies of weights: autocast caches one per matmul weight; QLoRA dequantizes per op.
  const castPerBlock = new Map<number, number>();
  if (dt.autocast && !cfg.qlora) {
    // FP8: an fp8 copy and an fp8 transpose with their scales in place of the 16-bit copy.
    const copy = (n: number) => (dt.fp8 ? FP8_COPY_BYTES * n + FP8_SCALE_BYTES : 2 * n);
    for (const t of inv.tensors) if (t.matmul) castPerBlock.set(t.block, (castPerBlock.get(t.block) ?? 0) + copy(numel(t)));
    if (inv.tiedHeadElems > 0 && spec.kind === 'transformer') castPerBlock.set(spec.layers, (castPerBlock.get(spec.layers) ?? 0) + copy(inv.tiedHeadElems));
  }
  const gradPerBlock = new Map<number, number>();
  for (const t of tr.tensors) gradPerBlock.set(t.block, (gradPerBlock.get(t.block) ?? 0) + (t.numel * gradPerParam) / gradShard);
  const casts = (blk: number) => castPerBlock.get(blk) ?? 0;
  const grads = (blk: number) => gradPerBlock.get(blk) ?? 0;

  let units: Unit[];
  if (spec.kind === 'transformer') units = transformerUnits(spec, cfg, dt, grads, casts, cfg.ep ?? 1, cfg.capacityFactor);
  else if (spec.kind === 'resnet') units = resnetUnits(spec, cfg, dt, grads, casts);
  else if (isImageFamily(spec)) units = familyUnits(spec, cfg, dt, grads, casts);
  else if (spec.kind === 'cnn') {
    units = cnnTorchUnits(spec, cfg, dt, grads, casts);
    persistent.workspace += cnnConvWorkspace(cnnGraph(spec, b), dt);
  } else units = mlpTorchUnits(spec.d, spec.hidden, spec.layers, spec.activation, b, dt, grads, casts);
  if (cfg.checkpoint === 'selective' && !hasAttention(spec)) {
    throw new EstimateError(`checkpoint selective recomputes attention, which ${spec.name} has none of; use none, full or sqrt`);
  }

  if (view) {
    units = view.units(units);
    const ex = view.extras(units, cfg.checkpoint);
    for (const [k, v] of Object.entries(ex.persistent)) persistent[k as keyof CategoryBytes] += v;
    comm.push(...ex.comm);
  }
  const step: StepParts = { units, persistent, gradBytes: gradTotal, optimizerTemp: opt.temp / (zero >= 1 ? N : 1), gradsPersist: accumulation > 1 };
  const offload = offloadOf(cfg);
  let hostParts: HostPart[] = [];
  if (offload) {
    const moved = applyOffload(offload, step, {
      fp32GradBytes: (tr.count * 4) / gradShard,
      halfParamBytes: (tr.count * 2) / (zero >= 1 ? N : 1),
      bufferBytes: inv.bufferBytes,
      checkpoint: cfg.checkpoint,
      inFlight: 1,
    });
    hostParts = moved.host;
    comm.push(...moved.gpu);
    notes.push(
      `offload to ${offload.to}: ${[offload.optimizer && 'optimizer states, master weights and gradients', offload.params && 'parameters', offload.activations && 'checkpointed activations'].filter(Boolean).join(', ')} live on the ${offload.to === 'cpu' ? 'host' : 'NVMe drive'} (${OFFLOAD_SOURCES.zeroOffload})`,
    );
  }
  persistent.workspace += comm.reduce((a, c) => a + c.bytes, 0);
  units = step.units;
  const sched = schedule({
    units,
    persistent,
    checkpoint: cfg.checkpoint,
    gradsPersist: step.gradsPersist,
    gradBytes: step.gradBytes,
    optimizerTemp: step.optimizerTemp,
    castCachedUntilForwardEnd: dt.autocast,
  });

  const terms = trainTerms(cfg, spec, dt, sched, units, weightsFormula, opt, gradPerParam, tr.count, comm);
  if (dt.fp8) {
    notes.push(
      `fp8: fp32 master weights and states, bf16 activations, and for each matmul weight an fp8 copy and its fp8 transpose (${FP8_COPY_BYTES} B + scales) in place of the 16-bit copy, so the total barely moves unless weights are stored in fp8 (torchtitan: 77.0 → 76.8 GiB for Llama 3.1 8B; ${PRECISION_SOURCES.fp8})`,
    );
  }
  if (isImageFamily(spec)) terms.push(...familyTerms(spec, cfg, dt, familyWorkspace(spec, cfg, b, dt)));
  if (accumulation > 1) notes.push(`gradient accumulation: ${accumulation} micro-batches of ${b}; gradients stay allocated through every forward`);
  if (deepspeedMixed) notes.push(`ZeRO with mixed precision: DeepSpeed-style 16-bit model, fp32 master weights and states${N > 1 ? ` sharded across ${N} GPUs` : ''}`);
  if (zero > 0 && N === 1) notes.push(`ZeRO-${zero} with 1 GPU shards nothing: every byte stays on the one GPU; set --gpus to the data-parallel size`);
  if (lora && tr.count >= totalParams(inv)) {
    notes.push(`LoRA rank ${cfg.loraRank} trains ${tr.count.toLocaleString('en-US')} parameters, no fewer than the model's ${totalParams(inv).toLocaleString('en-US')}: full fine-tuning (--lora-rank 0) trains fewer`);
  }
  if (cfg.qlora) notes.push('QLoRA: NF4 base weights are dequantized per op, so no 16-bit weight copies are held');
  if (spec.kind === 'transformer') notes.push(...familyNotes(spec, cfg));
  if (spec.kind === 'transformer' && cfg.seq > spec.maxPositions && spec.maxPositions > 0) {
    notes.push(`seq ${cfg.seq} is longer than the model's ${spec.maxPositions} learned positions: the real model would refuse it`);
  }
  notes.push('peak = torch.cuda.max_memory_allocated(): tensors only; the CUDA context and allocator caching are listed separately');
  // One rank of a parallel layout: its own activations (its layers, split, in flight).
  const activationsForTextbook =
    spec.kind === 'transformer' && !view ? spec.layers * korthikantiLayerBytes(cfg.seq, b, spec.hidden, spec.heads) : sched.max.activations;
  const host = offload ? hostFigures({ ...cfg, gpus: view?.layout.gpus ?? cfg.gpus }, hostParts, offload.to) : undefined;
  if (offload) {
    // Say where the moved categories went instead of listing them as 0 B.
    const moved = new Set<string>([...(offload.optimizer ? ['masterWeights', 'gradients', 'optimizer'] : []), ...(offload.params ? ['weights'] : [])]);
    for (const t of terms) if (moved.has(t.category) && t.bytes === 0) t.formula = `on the ${offload.to === 'cpu' ? 'host' : 'NVMe drive'} (offload); on a GPU it would be ${t.formula}`;
  }
  const groups = view ? [view.layout.shard, view.layout.tp, view.layout.pp, view.layout.cp].filter((g) => g > 1).length : N > 1 ? 1 : 0;
  return finish(cfg, spec, inv, tr.count, sched, terms, notes, activationsForTextbook, { ...(host ? { host } : {}), processGroups: groups });
}

/** An MLP under PyTorch: Linear → activation → Linear per block, loss = mean of squares. */
function mlpTorchUnits(
  d: number,
  hidden: number,
  layers: number,
  act: 'relu' | 'gelu',
  b: number,
  dt: DtypePlan,
  grads: (blk: number) => number,
  casts: (blk: number) => number,
): Unit[] {
  const c = dt.compute;
  const units: Unit[] = [];
  for (let l = 0; l < layers; l++) {
    // fc1 saves its input (a 16-bit cast under autocast); GELU saves its input; ReLU its output;
    // fc2 saves the activation output.
    const actSaved = act === 'gelu' ? 2 * c * hidden : c * hidden;
    units.push({
      name: `block ${l}`,
      category: 'activations',
      saved: b * (c * d + actSaved),
      selective: 0,
      checkpointInput: b * dt.residual * d,
      fwdTransient: b * dt.residual * d,
      bwdTransient: b * (2 * c * hidden + 2 * dt.residual * d),
      castBytes: casts(l),
      gradBytes: grads(l),
      recomputable: true,
    });
  }
  units.push({
    name: 'loss',
    category: 'activations',
    saved: b * d * dt.residual,
    selective: 0,
    checkpointInput: 0,
    fwdTransient: b * d * dt.residual,
    bwdTransient: 2 * b * d * dt.residual,
    castBytes: 0,
    gradBytes: 0,
    recomputable: false,
  });
  return units;
}

function trainTerms(
  cfg: PlanConfig,
  spec: ModelSpec,
  dt: DtypePlan,
  sched: Schedule,
  units: Unit[],
  weightsFormula: string,
  opt: { bytes: number; formula: string; source: string },
  gradPerParam: number,
  trainable: number,
  comm: CommPart[] = [],
): PlanTerm[] {
  const m = sched.max;
  const shard = (k: number) => (cfg.zero >= k && cfg.gpus > 1 ? ` ÷ ${cfg.gpus} GPUs (ZeRO-${cfg.zero})` : '');
  const terms: PlanTerm[] = [
    { category: 'weights', label: 'weights', bytes: m.weights, formula: weightsFormula, source: cfg.zero > 0 ? SOURCES.zero : SOURCES.hfAnatomy },
  ];
  if (m.masterWeights > 0) {
    terms.push({ category: 'masterWeights', label: 'fp32 master weights', bytes: m.masterWeights, formula: `trainable params × 4 B${shard(1)}`, source: SOURCES.hfAnatomy });
  }
  terms.push({ category: 'gradients', label: 'gradients', bytes: m.gradients, formula: `trainable params (${trainable.toLocaleString('en-US')}) × ${gradPerParam} B${shard(2)}`, source: SOURCES.hfAnatomy });
  if (opt.bytes > 0) terms.push({ category: 'optimizer', label: `${cfg.optimizer} states`, bytes: m.optimizer, formula: opt.formula + shard(1), source: opt.source });
  const body = units.filter((u) => u.recomputable);
  const b = cfg.microBatch ?? cfg.batch;
  if (spec.kind === 'transformer') {
    const lbs = Array.from({ length: spec.layers }, (_, l) => transformerLayerBytes(spec, dt, cfg.attention === 'eager', cfg.seq, l, cfg.capacityFactor));
    const lb = lbs[0]!;
    const tok = b * cfg.seq;
    const total = (k: 'attention' | 'mlp' | 'scores') => lbs.reduce((a, x) => a + x[k], 0);
    terms.push({
      category: 'activations',
      label: 'attention activations, all layers',
      bytes: tok * total('attention'),
      formula: `${perLayer(lbs.map((x) => x.attention))} (norm inputs, ${spec.mla ? 'latents, decompressed q/k/v' : 'q/k/v'}, SDPA out and row statistics)`,
      source: spec.mla ? SOURCES.mla : SOURCES.sdpa,
    });
    if (lb.scores > 0) {
      terms.push({
        category: 'activations',
        label: 'attention scores (eager, s²)',
        bytes: tok * total('scores'),
        formula: `${spec.layers} layers × b·a·s² × ${Math.round(lb.scores / cfg.seq / spec.heads)} B (softmax out, dropout mask and out)${spec.windows?.some((w) => w > 0) ? '; a local layer masks its window out of the full s × s' : ''}`,
        source: SOURCES.korthikanti,
      });
    }
    terms.push({
      category: 'activations',
      label: spec.moe ? 'MLP and MoE activations, all layers' : 'MLP activations, all layers',
      bytes: tok * total('mlp'),
      formula: spec.moe
        ? `${perLayer(lbs.map((x) => x.mlp))}; a MoE layer keeps the router's E fp32 probabilities and, per routed row (b·s × k = ${spec.moe.topK}), the expert's input, its I_e-wide hidden and output`
        : perLayer(lbs.map((x) => x.mlp)),
      source: spec.moe ? SOURCES.moe : SOURCES.korthikanti,
    });
    if (spec.head !== 'base') {
      terms.push({
        category: 'logits',
        label: 'logits and loss',
        bytes: m.logits,
        formula: `b·s·V × 4 B log_softmax kept; backward peak 3 × b·s·V × 4 B (V = ${spec.vocab})`,
        source: 'Hugging Face ForCausalLMLoss / CrossEntropyLoss (fp32 upcast)',
      });
    }
  } else {
    terms.push({
      category: 'activations',
      label: 'activations saved for backward',
      bytes: body.reduce((a, u) => a + u.saved, 0),
      formula: spec.kind === 'cnn' ? 'per conv: output (kept by BatchNorm) + BN/ReLU output, × batch; max pooling: input + int64 indices' : spec.kind === 'resnet' || spec.kind === 'efficientnet' ? 'per conv: output (kept by BatchNorm) + BN/activation output, × batch' : isImageFamily(spec) ? 'every unit: tower layers, projector and language-model layers, × batch' : 'per block: input + activation (GELU keeps its input too), × batch',
      source: SOURCES.autocast,
    });
  }
  if (cfg.checkpoint !== 'none') {
    terms.push({
      category: 'activations',
      label: `checkpointing (${cfg.checkpoint})`,
      bytes: m.activations,
      formula:
        cfg.checkpoint === 'sqrt'
          ? `keep every ⌈√n⌉-th unit's input, recompute each segment: ${sched.recomputedUnits} units recomputed`
          : cfg.checkpoint === 'full'
            ? `keep each layer's input, recompute one layer at a time: ${sched.recomputedUnits} units recomputed`
            : 'keep all but the attention core, recompute it in backward',
      source: cfg.checkpoint === 'sqrt' ? SOURCES.chen : SOURCES.korthikanti,
    });
  }
  terms.push({ category: 'activationGrads', label: 'activation gradients (backward, transient)', bytes: m.activationGrads, formula: 'largest set of activation gradients alive in one unit’s backward', source: SOURCES.autocast });
  if (m.inputs > 0) terms.push({ category: 'inputs', label: 'inputs', bytes: m.inputs, formula: spec.kind === 'transformer' ? 'b·s × 8 B per int64 tensor (ids, labels)' : 'the batch as fp32', source: 'PyTorch dtypes' });
  const cnnWorkspace = spec.kind === 'cnn' ? cnnConvWorkspace(cnnGraph(spec, b), dt) : 0;
  if (cnnWorkspace > 0) {
    terms.push({ category: 'workspace', label: 'cuDNN convolution workspace', bytes: cnnWorkspace, formula: 'an im2col buffer of the largest conv: b·OH·OW × Cin·k² × compute bytes (upper estimate of the algorithms cuDNN picks)', source: 'cuDNN cudnnGetConvolutionForwardWorkspaceSize; PyTorch caching allocator' });
  }
  const commBytes = comm.reduce((a, c) => a + c.bytes, 0);
  if (commBytes > 0) {
    terms.push({
      category: 'workspace',
      label: 'communication buffers',
      bytes: commBytes,
      formula: comm.map((c) => `${c.what} ${(c.bytes / 2 ** 20).toFixed(1)} MiB (${c.assumes})`).join('; '),
      source: `${SOURCES.ddp}; ${SOURCES.zero}`,
    });
  }
  const rest = m.workspace - commBytes - cnnWorkspace;
  if (rest > 0) {
    terms.push({ category: 'workspace', label: 'optimizer step temporaries', bytes: rest, formula: `${cfg.optimizerImpl ?? 'foreach'} step: intermediates over the states it steps at once`, source: PRECISION_SOURCES.torchOptim });
  }
  return terms;
}

/** "32 layers × b·s × 1234 B", or per group of equal layers ("3 layers × … + 58 layers × …"). */
function perLayer(bytes: number[]): string {
  const groups: [number, number][] = [];
  for (const v of bytes.map(Math.round)) {
    const g = groups.find(([x]) => x === v);
    if (g) g[1]++;
    else groups.push([v, 1]);
  }
  return groups.map(([v, n]) => `${n} layers × b·s × ${v} B`).join(' + ');
}

function inferencePlan(cfg: PlanConfig, spec: NetSpec, fullInv: Inventory): Plan {
  // FP8 weights: 1 B per matmul weight and an fp32 scale per tensor, the rest in bf16.
  const dt = cfg.precision === 'fp8' ? { ...dtypePlan('bf16', false), quantizedBase: FP8_WEIGHT_BYTES } : dtypePlan(cfg.precision, false);
  if (cfg.loraRank > 0) throw new EstimateError('LoRA is for training; use --lora-rank 0 with --mode inference');
  const lay = inferenceLayout(cfg, spec, fullInv);
  const inv = lay.inventory;
  const t = lay.layout.tp;
  const b = cfg.batch;
  const c = dt.compute;
  const persistent = zeroCategories();
  const matmul = paramsWhere(inv, (x) => x.matmul);
  const other = totalParams(inv) - matmul;
  const matmulBytes = dt.quantizedBase ?? dt.param;
  const scales = cfg.precision === 'fp8' ? 4 * inv.tensors.filter((x) => x.matmul).length : 0;
  const blockBytes = (blk: number) =>
    inv.tensors.filter((x) => x.block === blk).reduce((a, x) => a + x.rows * x.cols * (x.matmul ? matmulBytes : dt.param), 0);
  persistent.weights = matmul * matmulBytes + other * dt.param + inv.bufferBytes + scales;
  // Autocast keeps its 16-bit weight copies until the forward leaves the autocast region.
  if (dt.autocast) persistent.weights += 2 * (matmul + inv.tiedHeadElems);
  const place = placeOnHost(cfg, spec, blockBytes);
  persistent.weights -= place.weightsOnHost;
  const hostParts: HostPart[] = [];
  if (place.weightsOnHost > 0) hostParts.push({ what: 'weights of layers on the host', bytes: place.weightsOnHost, assumes: place.what });
  const terms: PlanTerm[] = [
    {
      category: 'weights',
      label: 'weights',
      bytes: persistent.weights,
      formula: `matmul weights × ${matmulBytes.toFixed(3)} B + others × ${dt.param} B${scales > 0 ? ' + an fp32 scale per matmul weight' : ''}${dt.autocast ? ' + autocast 16-bit copies' : ''}${t > 1 ? ` (tensor parallel: matmul weights and vocabulary ÷ ${t})` : ''}${place.weightsOnHost > 0 ? `; ${place.what}` : ''}`,
      source: cfg.precision === 'fp8' ? PRECISION_SOURCES.fp8Kv : dt.quantizedBase ? SOURCES.qlora : SOURCES.hfAnatomy,
    },
  ];
  let transient: number;
  let at = 'forward';
  if (spec.kind === 'transformer') {
    const s = spec;
    // The cache as the model lays it out (sliding windows, MLA latents), stored as --kv-dtype
    // (GGML blocks, fp8 + scales) and split by tensor parallel (fewer kv heads than GPUs: replicated).
    const base = kvCache(s, cfg.seq, b, c);
    const kvHeads = Math.max(1, Math.ceil(s.kvHeads / t));
    const shape = { layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim };
    const stored = kvCacheBytes(shape, cfg.seq, b, cfg.kvDtype, c);
    const ratio = (stored.bytes / kvCacheBytes(shape, cfg.seq, b, undefined, c).bytes) * (kvHeads / s.kvHeads);
    const kvBytes = base.bytes * ratio;
    const kvOnGpu = cfg.kvOnHost ? 0 : kvBytes * place.kvGpuFraction;
    persistent.kvCache = s.family === 'bert' ? 0 : kvOnGpu;
    if (s.family !== 'bert' && kvBytes - kvOnGpu > 0) {
      hostParts.push({ what: 'KV cache on the host', bytes: kvBytes - kvOnGpu, assumes: cfg.kvOnHost ? 'the whole cache (--kv-on-host)' : 'the cache of the layers on the host' });
    }
    persistent.inputs = b * cfg.seq * 8;
    if (s.family !== 'bert') {
      const how = cfg.kvDtype ? `; stored as ${cfg.kvDtype}: ${stored.perValue.toFixed(4)} B per value` : '';
      terms.push({
        category: 'kvCache',
        label: s.mla ? 'KV cache (MLA latent)' : 'KV cache',
        bytes: persistent.kvCache,
        formula: `${base.formula}${how}${t > 1 ? ` (÷ ${s.kvHeads / kvHeads} by tensor parallel)` : ''}${kvOnGpu < kvBytes ? `; ${formatGiB(kvBytes - kvOnGpu)} of it on the host` : ''}`,
        source: cfg.kvDtype === 'q8_0' || cfg.kvDtype === 'q4_0' ? PRECISION_SOURCES.ggml : cfg.kvDtype === 'fp8' ? PRECISION_SOURCES.fp8Kv : s.mla ? SOURCES.mla : SOURCES.kvCache,
      });
    }
    // Prefill: one layer's working set (residual, norm out, q/k/v, MLP hidden ×3) at a time;
    // the widest layer sets it (a MoE layer: the k routed experts' rows and the shared expert).
    const tok = b * cfg.seq;
    const widest = Math.max(...Array.from({ length: s.layers }, (_, l) => {
      const w = layerWidths(s, l);
      return c * w.qkv + 3 * c * w.mlpHidden;
    }));
    const layer = tok * (2 * dt.residual * s.hidden + widest / t);
    const scores = cfg.attention === 'eager' ? (b * s.heads * cfg.seq * cfg.seq * (c + (dt.autocast ? 4 : c))) / t : 0;
    // Generation computes logits for the last position only (fp32 upcast); --logits all (a
    // plain forward: evaluation, scoring) every position. Gathered whole on each GPU.
    const all = cfg.logits === 'all' || s.head === 'masked-lm';
    const logits = s.head === 'base' ? 0 : (all ? tok : b) * s.vocab * (c + 4);
    transient = Math.max(layer + scores, logits);
    at = layer + scores >= logits ? 'prefill of one layer' : 'logits of the last position';
    terms.push({ category: 'activations', label: 'prefill working set (one layer)', bytes: layer + scores, formula: 'b·s × (2 residual + q/k/v + 3 × MLP hidden) per layer, one layer alive at a time', source: SOURCES.sdpa });
    if (logits > 0) terms.push({ category: 'logits', label: 'logits', bytes: logits, formula: all ? 'b·s × V × (16-bit + fp32), every position' : 'b × V × (16-bit + fp32) for the last position', source: all ? 'Hugging Face forward (logits for every position)' : 'Hugging Face generate' });
  } else if (isImageFamily(spec)) {
    const f = familyInference(spec, cfg, dt);
    persistent.inputs = familyInputs(spec, cfg, b, dt);
    persistent.kvCache = f.kvCache;
    persistent.workspace = f.workspace;
    transient = f.transient;
    at = f.at;
    terms.push(...f.terms);
  } else if (spec.kind === 'resnet') {
    persistent.inputs = b * 3 * cfg.imageSize * cfg.imageSize * 4;
    const units = resnetUnits(spec, { ...cfg, microBatch: b }, dt, () => 0, () => 0);
    transient = Math.max(...units.map((u) => u.fwdTransient * 3));
    terms.push({ category: 'activations', label: 'largest conv input + output', bytes: transient, formula: 'no autograd: only the tensors of the running layer', source: SOURCES.autocast });
  } else if (spec.kind === 'cnn') {
    persistent.inputs = b * spec.inChannels * spec.imageSize * spec.imageSize * 4;
    const g = cnnGraph(spec, b);
    // No autograd: a layer's input and output (and a residual) at a time, plus cuDNN's workspace.
    transient = Math.max(...g.tensors.map((t) => 3 * c * t.elems)) + cnnConvWorkspace(g, dt);
    terms.push({ category: 'activations', label: 'largest layer input + output (+ residual) and conv workspace', bytes: transient, formula: 'no autograd: only the tensors of the running layer', source: SOURCES.autocast });
  } else {
    persistent.inputs = b * spec.d * c;
    transient = b * (spec.hidden * 2 + spec.d) * c;
    terms.push({ category: 'activations', label: 'one block’s activations', bytes: transient, formula: 'b × (2·hidden + d) × bytes', source: SOURCES.autocast });
  }
  const live = { ...persistent };
  const peakLive = { ...persistent, activations: transient };
  const sched: Schedule = {
    points: [
      { label: 'weights loaded', phase: 'forward', live },
      { label: at, phase: 'forward', live: peakLive },
    ],
    peak: { label: at, phase: 'forward', live: peakLive, bytes: sumBytes(peakLive) },
    max: peakLive,
    recomputedUnits: 0,
  };
  const notes = ['inference: no gradients or optimizer states; activations are freed layer by layer'];
  if (spec.kind === 'transformer') notes.push(...familyNotes(spec, cfg));
  if (place.weightsOnHost > 0) notes.push(`${place.what} (${OFFLOAD_SOURCES.llamaCpp})`);
  const host = hostParts.length > 0 || cfg.hostMemoryGiB !== undefined ? hostFigures({ ...cfg, gpus: lay.layout.gpus }, hostParts, 'cpu') : undefined;
  const plan = finish(cfg, spec, inv, 0, sched, terms, notes, transient, { ...(host ? { host } : {}), processGroups: t > 1 ? 1 : 0 });
  const full = totalParams(fullInv);
  return {
    ...plan,
    model: { ...plan.model, params: full },
    params: full,
    ...(cfg.parallel !== undefined || cfg.gpus > 1 ? { layout: lay.layout } : {}),
    ...(t > 1 ? { devices: [{ rank: 'every rank', stage: 0, gpus: lay.layout.gpus, peakBytes: plan.peak.bytes, totalBytes: plan.totalBytes, bytes: plan.bytes, hostBytes: host?.bytesPerGpu ?? 0 }] } : {}),
  };
}

function vramlabPlan(cfg: PlanConfig, spec: ModelSpec, inv: Inventory): Plan {
  checkEngineSupports(cfg, spec.kind);
  if (spec.kind === 'cnn') return cnnVramlabPlan(cfg, spec, inv);
  if (spec.kind !== 'mlp' && spec.kind !== 'transformer') throw new EstimateError('framework vramlab: the engine runs the mlp model, GPT-style and Llama-style decoders');
  const llama = spec.kind === 'transformer' && spec.family === 'llama';
  const desc = spec.kind === 'mlp' ? mlpDescriptionOf(spec, cfg) : llama ? llamaDescriptionOf(spec, cfg) : gptDescriptionOf(spec, cfg);
  const lay = describedLayout(desc, { amp: cfg.precision !== 'fp32', optimizer: cfg.optimizer });
  const persistent = zeroCategories();
  persistent.weights = lay.weightsBytes;
  persistent.masterWeights = lay.masterBytes;
  persistent.optimizer = lay.optimizerBytes;
  persistent.inputs = lay.inputBytes;
  persistent.workspace = lay.workspaceBytes;
  const sched = schedule({
    units: lay.units,
    persistent,
    checkpoint: cfg.checkpoint,
    gradsPersist: false,
    gradBytes: lay.gradBytes,
    optimizerTemp: 0,
    castCachedUntilForwardEnd: false,
  });
  const m = sched.max;
  const amp = cfg.precision !== 'fp32';
  const terms: PlanTerm[] = [
    { category: 'weights', label: amp ? '16-bit weight copies (packed)' : 'weights', bytes: m.weights, formula: amp ? 'matmul weights: ⌈n/2⌉ × 4 B per matrix' : 'params × 4 B', source: 'vramlab engine layout' },
    { category: 'masterWeights', label: 'fp32 master weights', bytes: m.masterWeights, formula: amp ? 'params × 4 B' : 'none in fp32', source: 'vramlab engine layout' },
    { category: 'gradients', label: 'gradients (fp32)', bytes: m.gradients, formula: 'params × 4 B, created block by block in backward', source: 'vramlab engine layout' },
    { category: 'optimizer', label: `${cfg.optimizer} states`, bytes: m.optimizer, formula: 'params × 4 B per state (momentum 1, adam 2)', source: 'vramlab engine layout' },
    {
      category: 'activations',
      label: 'activations',
      bytes: m.activations,
      formula:
        spec.kind === 'mlp'
          ? `per block: input, pre-activation, activation × batch × ${amp ? '2 B (packed)' : '4 B'}`
          : llama
            ? `per block: x, RMSNorm 1, rotated qkv, ${cfg.attention === 'eager' ? 'probabilities (b·a·s²)' : 'row logsumexp'}, attention out, x1, RMSNorm 2, gate/up, SwiGLU; logits b·s·V`
            : `per block: x, LN1, qkv, ${cfg.attention === 'eager' ? 'probabilities (b·a·s²)' : 'row logsumexp'}, attention out, x1, LN2, MLP pre/act; logits b·s·V`,
      source:
        spec.kind === 'mlp'
          ? 'vramlab model description (src/estimate/vramlab-mlp.ts)'
          : llama
            ? 'vramlab model description (src/estimate/vramlab-llama.ts)'
            : 'vramlab model description (src/estimate/vramlab-gpt.ts)',
    },
    { category: 'activationGrads', label: 'activation gradients (fp32)', bytes: m.activationGrads, formula: spec.kind === 'mlp' ? 'dOut, dAct, dIn of the block in backward' : 'largest set in one unit’s backward (dX, dPre, dY; dLogits in the head)', source: 'vramlab engine layout' },
    { category: 'inputs', label: 'input batch', bytes: m.inputs, formula: spec.kind === 'mlp' ? `batch × d × ${amp ? '2 B (packed)' : '4 B'}` : 'token ids and targets, u32 each', source: 'vramlab engine layout' },
    { category: 'workspace', label: 'optimizer hyper-parameters, loss scale, loss', bytes: m.workspace, formula: '12 × 4 B + 16 B + 4 B', source: 'vramlab engine layout' },
  ];
  const notes = ['framework vramlab: the buffers this project’s WebGPU engine allocates; its ledger is the measurement'];
  const plan = finish(cfg, spec, inv, totalParams(inv), sched, terms, notes, m.activations);
  // Op by op, as the engine's ledger records the step (every point names its op).
  plan.timeline = opTimeline({ units: lay.units, persistent, checkpoint: cfg.checkpoint }).map((p) => ({ label: p.label, phase: p.phase, bytes: p.live, op: p.op, at: p.at }));
  return plan;
}

/** What a reader of a MoE, MLA or sliding-window plan should know about how it was counted. */
function familyNotes(s: TransformerSpec, cfg: PlanConfig): string[] {
  const notes: string[] = [];
  const n = (x: number) => `${(x / 1e9).toFixed(1)}B`;
  const ep = cfg.ep ?? 1;
  if (s.moe) {
    const inv = inventory(s);
    notes.push(
      `mixture of experts: all ${s.moe.experts} experts of every MoE layer are resident, so weights, gradients and optimizer states count ${n(totalParams(inv))} parameters; ${n(activeParams(inv))} are active per token (top-${s.moe.topK}), which sets compute and activations, not memory`,
    );
    notes.push(
      cfg.capacityFactor === undefined
        ? 'MoE routing as transformers runs it: dropless (exactly b·s × k rows reach the experts, no capacity padding); the router load-balancing loss is not computed'
        : `MoE capacity factor ${cfg.capacityFactor}: every expert is padded to ⌈${cfg.capacityFactor} · b·s · ${s.moe.topK} / ${s.moe.experts}⌉ rows, kept whether tokens fill them or not`,
    );
    if (ep > 1) notes.push(`expert parallel ${ep}: each GPU holds ${s.moe.experts / ep} of the ${s.moe.experts} experts per MoE layer and two all-to-all buffers of the routed rows per layer`);
  }
  if (s.mla && cfg.mode === 'inference') {
    notes.push(`MLA: the KV cache holds the ${s.mla.kvLoraRank}-value latent and the ${s.mla.qkRopeHeadDim}-value rotary key per token per layer, as vLLM and SGLang cache it; transformers' own cache keeps the decompressed keys and values, ${Math.round(mlaDecompressedRatio(s))}× more`);
  }
  if (s.windows?.some((w) => w > 0 && w < cfg.seq) && cfg.mode === 'inference') {
    notes.push('sliding window: a local layer caches only its last window of tokens (transformers\' sliding-window cache, vLLM)');
  }
  return notes;
}

const mlaDecompressedRatio = (s: TransformerSpec) => (s.heads * (s.mla!.qkNopeHeadDim + s.mla!.qkRopeHeadDim + s.mla!.vHeadDim)) / (s.mla!.kvLoraRank + s.mla!.qkRopeHeadDim);

/** framework vramlab for the CNNs: the engine's step program (estimate/cnn.ts) walked byte by byte. */
function cnnVramlabPlan(cfg: PlanConfig, spec: CnnSpec, inv: Inventory): Plan {
  const lay = cnnLayout(spec, cfg);
  const walk = cnnWalk(lay);
  const max = zeroCategories();
  for (const p of walk.points) for (const k of Object.keys(max) as (keyof CategoryBytes)[]) max[k] = Math.max(max[k], p.live[k]);
  const peak = walk.points[walk.peakIndex]!;
  const sched: Schedule = { points: walk.points, peak: { ...peak, bytes: sumBytes(peak.live) }, max, recomputedUnits: lay.program.filter((c) => c.k === 'op' && c.phase === 'recompute').length };
  const amp = cfg.precision !== 'fp32';
  const src = 'vramlab engine layout (src/estimate/cnn.ts)';
  const terms: PlanTerm[] = [
    { category: 'weights', label: amp ? '16-bit conv and linear weight copies (packed), BatchNorm running statistics' : 'weights and BatchNorm running statistics', bytes: max.weights, formula: amp ? 'conv/linear weights: ⌈n/2⌉ × 4 B; running mean and var: 2·C × 4 B per BatchNorm' : 'params × 4 B + 2·C × 4 B per BatchNorm', source: src },
    { category: 'masterWeights', label: 'fp32 master weights', bytes: max.masterWeights, formula: amp ? 'params × 4 B' : 'none in fp32', source: src },
    { category: 'gradients', label: 'gradients (fp32)', bytes: max.gradients, formula: 'params × 4 B, created layer by layer in backward', source: src },
    { category: 'optimizer', label: `${cfg.optimizer} states`, bytes: max.optimizer, formula: 'params × 4 B per state (momentum 1, adam 2)', source: src },
    { category: 'activations', label: 'activations', bytes: max.activations, formula: `per layer what its backward needs: conv input, BatchNorm input and statistics (2·C f32), ReLU output; max pooling keeps its input only (no indices); × batch × ${amp ? '2 B (packed)' : '4 B'}`, source: src },
    { category: 'activationGrads', label: 'activation gradients (fp32)', bytes: max.activationGrads, formula: 'the gradients alive at once in one layer’s backward', source: src },
    { category: 'inputs', label: 'input batch', bytes: max.inputs, formula: `images × ${amp ? '2 B (packed)' : '4 B'}, labels u32`, source: src },
    { category: 'workspace', label: 'optimizer hyper-parameters, loss scale, loss', bytes: max.workspace, formula: '12 × 4 B + 16 B + 4 B (direct convolution: no conv workspace)', source: src },
  ];
  const notes = ['framework vramlab: the buffers this project’s WebGPU engine allocates; its ledger is the measurement'];
  const plan = finish(cfg, spec, inv, totalParams(inv), sched, terms, notes, max.activations);
  plan.timeline = walk.opPoints.map((p) => ({ label: p.label, phase: p.phase, bytes: p.live, op: p.op, at: p.at }));
  return plan;
}
