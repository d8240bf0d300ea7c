/**
 * Whether a GPT, Llama or CNN run fits the device in front of the user, and if not, the same
 * model scaled down until it does. Pure functions (no DOM, no GPU): the run panel calls them
 * before every such run, so no run starts on a shape the device cannot hold or would take
 * minutes per step.
 *
 * Three checks, all from numbers known before anything is allocated:
 * - the largest single tensor against the adapter's maxStorageBufferBindingSize and
 *   maxBufferSize (a buffer over either is refused by WebGPU: BufferTooLarge);
 * - the planner's framework-vramlab peak (estimate(planConfigOfGpt(c)), the number the
 *   ledger matches exactly) against a memory budget: WebGPU cannot say how much memory a
 *   device has, so the budget is a stated guess, 1 GiB on a software (fallback) adapter and
 *   4 GiB otherwise;
 * - the step's arithmetic against a compute budget, so a software adapter (SwiftShader runs
 *   well under 1 GFLOP/s, see DESIGN.md) finishes a step in about a second instead of
 *   freezing the lab for minutes.
 *
 * Scaling divides d-model, vocab, layers, seq and batch by one power of two (each kept at a
 * small floor) and keeps the number of heads where it divides the new d-model. A Llama-style
 * run also divides its SwiGLU width and keeps the ratio of query to kv heads where it can (the
 * head size stays even: rotary positions pair lanes). A CNN divides its batch and, for
 * cnn-cifar, its blocks per stage and first-stage width (cnn-mnist's LeNet-5 has a fixed shape).
 */
import { cnnGraph, cnnSpecOf } from '../estimate/cnn.ts';
import { estimate, stepWork } from '../estimate/index.ts';
import { isCnnRun as isCnn, planConfigOfCnn, type CnnRunConfig } from '../protocol/cnn.ts';
import type { AdapterSummary } from '../protocol/engine-api.ts';
import { planConfigOfRun, type GptRunConfig, type LlamaRunConfig } from '../protocol/run.ts';

/** The decoders the lab and the CLI scale to a device. */
export type DecoderRunConfig = GptRunConfig | LlamaRunConfig;
/** Every run the lab scales to a device: the decoders and the CNNs. */
export type ScalableRunConfig = DecoderRunConfig | CnnRunConfig;


const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** The budgets, stated in the UI; see the module comment for why each exists. */
export const DEVICE_BUDGETS = {
  software: { memoryBytes: 1 * GiB, stepFlops: 2 ** 27 },
  gpu: { memoryBytes: 4 * GiB, stepFlops: 2 ** 43 },
} as const;

/** WebGPU's default limits, used when the adapter summary lacks one. */
const DEFAULT_LIMITS = { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB } as const;

/** The largest factor tried before refusing: 2^10 takes gpt2-xl's d 1600 to the floor. */
export const MAX_SCALE_FACTOR = 1024;

/** Floors below which a dimension is not divided further (a model still worth measuring). */
export const SCALE_FLOORS = { dModel: 8, vocab: 16, layers: 1, seq: 8, batch: 1, cnnWidth: 4, cnnBlocks: 1 } as const;

export interface DeviceBudget {
  /** A software adapter (SwiftShader): the smaller budgets apply. */
  software: boolean;
  /** The planner's peak may be at most this many bytes. */
  memoryBytes: number;
  /** One training step may take at most this many floating-point operations (approximate count). */
  stepFlops: number;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** The budget for an adapter: its buffer limits, and the memory and compute budgets of its kind. */
export function deviceBudget(adapter: Pick<AdapterSummary, 'isFallbackAdapter' | 'limits'>): DeviceBudget {
  const software = adapter.isFallbackAdapter;
  const b = software ? DEVICE_BUDGETS.software : DEVICE_BUDGETS.gpu;
  const limit = (name: keyof typeof DEFAULT_LIMITS) => {
    const v = adapter.limits[name];
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : DEFAULT_LIMITS[name];
  };
  return {
    software,
    memoryBytes: b.memoryBytes,
    stepFlops: b.stepFlops,
    maxBufferSize: limit('maxBufferSize'),
    maxStorageBufferBindingSize: limit('maxStorageBufferBindingSize'),
  };
}

export interface Tensor {
  name: string;
  bytes: number;
}

/**
 * The largest single buffer the engine creates for this run, in bytes. Gradients are f32
 * whatever the precision, so f32 bounds every tensor: rows = batch·seq; the logits gradient
 * rows×vocab, the token table vocab×d (and its gradient and optimizer states), the MLP's
 * rows×4d pre-activation and d×4d weight, the QKV rows×3d, and with eager attention the
 * probabilities batch×heads×seq×seq. A CNN's: its largest activation (batch × channels × height
 * × width) or parameter, from the model's description (estimate/cnn.ts).
 */
export function largestTensor(c: ScalableRunConfig): Tensor {
  if (isCnn(c)) {
    const g = cnnGraph(cnnSpecOf(c.model, planConfigOfCnn(c))!, c.batch);
    const t = g.tensors.reduce((a, b) => (b.elems > a.elems ? b : a));
    const p = g.params.reduce((a, b) => (b.n > a.n ? b : a));
    return t.elems >= p.n ? { name: `activation ${t.name} (batch × channels × height × width)`, bytes: 4 * t.elems } : { name: `parameter ${p.name}`, bytes: 4 * p.n };
  }
  const rows = c.batch * c.seq;
  const d = c.dModel;
  if (c.model === 'llama') {
    const W = (c.heads + 2 * c.kvHeads) * c.headDim;
    const t: Tensor[] = [
      { name: 'logits (batch·seq × vocab)', bytes: 4 * rows * c.vocab },
      { name: 'token embedding (vocab × d-model)', bytes: 4 * c.vocab * d },
      { name: 'gate/up activations (batch·seq × 2·inner)', bytes: 4 * rows * 2 * c.inner },
      { name: 'gate/up weight (d-model × 2·inner)', bytes: 4 * d * 2 * c.inner },
      { name: 'QKV (batch·seq × (heads + 2·kv heads)·head size)', bytes: 4 * rows * W },
    ];
    if (c.attention === 'eager') t.push({ name: 'attention probabilities (batch × heads × seq × seq)', bytes: 4 * c.batch * c.heads * c.seq * c.seq });
    return t.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  }
  const candidates: Tensor[] = [
    { name: 'logits (batch·seq × vocab)', bytes: 4 * rows * c.vocab },
    { name: 'token embedding (vocab × d-model)', bytes: 4 * c.vocab * d },
    { name: 'MLP activations (batch·seq × 4·d-model)', bytes: 4 * rows * 4 * d },
    { name: 'MLP weight (d-model × 4·d-model)', bytes: 4 * d * 4 * d },
    { name: 'QKV (batch·seq × 3·d-model)', bytes: 4 * rows * 3 * d },
    { name: 'position embedding (seq × d-model)', bytes: 4 * c.seq * d },
  ];
  if (c.attention === 'eager') candidates.push({ name: 'attention probabilities (batch × heads × seq × seq)', bytes: 4 * c.batch * c.heads * c.seq * c.seq });
  return candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/**
 * Floating-point operations of one training step, approximately: 6 per parameter per token
 * for the matmuls (2 forward, 4 backward; blocks 12·d² each, the tied head vocab·d) plus
 * attention's QKᵀ and PV, 4·batch·seq²·d per layer forward, three times that with backward.
 * Recomputation under checkpointing adds at most one more forward; it is left out. A CNN's is
 * the engine's own count (stepWork), recompute included.
 */
export function stepFlops(c: ScalableRunConfig): number {
  if (isCnn(c)) return stepWork(c).totalFlops;
  const rows = c.batch * c.seq;
  const d = c.dModel;
  if (c.model === 'llama') {
    const W = (c.heads + 2 * c.kvHeads) * c.headDim;
    const Hq = c.heads * c.headDim;
    return 6 * rows * (c.layers * (d * W + Hq * d + 3 * d * c.inner) + c.vocab * d) + 12 * c.layers * c.batch * c.seq * c.seq * Hq;
  }
  return 6 * rows * (12 * c.layers * d * d + c.vocab * d) + 12 * c.layers * c.batch * c.seq * c.seq * d;
}

/** The planner's framework-vramlab peak for the run, in bytes (what the ledger measures). */
export function peakBytes(c: ScalableRunConfig): number {
  return estimate(isCnn(c) ? planConfigOfCnn(c) : planConfigOfRun(c)).peak.bytes;
}

export const LIMIT_NAMES = ['maxStorageBufferBindingSize', 'maxBufferSize', 'memory budget', 'compute budget'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** One limit a configuration is over. */
export interface Excess {
  limit: LimitName;
  /** What is over it, e.g. "the largest tensor, logits (…), 196 MiB". */
  what: string;
  needed: number;
  allowed: number;
}

export interface FitCheck {
  tensor: Tensor;
  peakBytes: number;
  stepFlops: number;
  /** Empty when the configuration fits. */
  over: Excess[];
}

/** Checks one configuration against the budget; `over` lists every limit it breaks. */
export function checkFit(c: ScalableRunConfig, budget: DeviceBudget): FitCheck {
  const tensor = largestTensor(c);
  const flops = stepFlops(c);
  const over: Excess[] = [];
  if (tensor.bytes > budget.maxStorageBufferBindingSize) {
    over.push({ limit: 'maxStorageBufferBindingSize', what: `the largest tensor, ${tensor.name}`, needed: tensor.bytes, allowed: budget.maxStorageBufferBindingSize });
  }
  if (tensor.bytes > budget.maxBufferSize) {
    over.push({ limit: 'maxBufferSize', what: `the largest tensor, ${tensor.name}`, needed: tensor.bytes, allowed: budget.maxBufferSize });
  }
  const peak = peakBytes(c);
  if (peak > budget.memoryBytes) over.push({ limit: 'memory budget', what: 'the estimated peak', needed: peak, allowed: budget.memoryBytes });
  if (flops > budget.stepFlops) over.push({ limit: 'compute budget', what: 'one training step', needed: flops, allowed: budget.stepFlops });
  return { tensor, peakBytes: peak, stepFlops: flops, over };
}

/** The largest h ≤ heads dividing d (with an even head size when activations are 16-bit). */
export function headsFor(d: number, heads: number, precision: GptRunConfig['precision']): number {
  for (let h = Math.min(heads, d); h >= 1; h--) {
    if (d % h !== 0) continue;
    if (precision !== 'fp32' && (d / h) % 2 !== 0) continue;
    return h;
  }
  return 1;
}

/** The largest kv ≤ kvHeads dividing heads with heads / kv ≤ headDim (the attention kernel's limit). */
export function kvHeadsFor(heads: number, kvHeads: number, headDim: number): number {
  for (let k = Math.min(kvHeads, heads); k >= 1; k--) if (heads % k === 0 && heads / k <= headDim) return k;
  return heads;
}

/**
 * The configuration divided by `factor` (a power of two), each dimension kept at its floor;
 * `minLayers` raises the depth's floor for a caller whose point needs blocks (a lesson on
 * checkpointing or on what trains per block): the depth is kept down to it, never raised.
 */
export function scaleGpt<C extends DecoderRunConfig>(c: C, factor: number, minLayers: number = SCALE_FLOORS.layers): C {
  if (!Number.isInteger(Math.log2(factor)) || factor < 1) throw new RangeError(`scale factor must be a power of two, got ${factor}`);
  if (factor === 1) return c;
  const div = (v: number, floor: number) => Math.max(Math.min(v, floor), Math.floor(v / factor));
  const layers = div(c.layers, Math.max(SCALE_FLOORS.layers, minLayers));
  // Even, so a 16-bit run keeps an even head size with one head at least.
  let dModel = div(c.dModel, SCALE_FLOORS.dModel);
  if ((c.precision !== 'fp32' || c.model === 'llama') && dModel % 2 !== 0) dModel += 1;
  if (c.model === 'llama') {
    // Rotary positions need an even head size whatever the precision.
    const heads = headsFor(dModel, c.heads, 'amp-bf16');
    const headDim = dModel / heads;
    return {
      ...c,
      dModel,
      heads,
      headDim,
      kvHeads: kvHeadsFor(heads, Math.max(1, Math.round((c.kvHeads * heads) / c.heads)), headDim),
      inner: div(c.inner, SCALE_FLOORS.dModel),
      vocab: div(c.vocab, SCALE_FLOORS.vocab),
      layers,
      seq: div(c.seq, SCALE_FLOORS.seq),
      batch: div(c.batch, SCALE_FLOORS.batch),
      // A LoRA rank stays within the scaled width, as the GPT's.
      ...(c.loraRank ? { loraRank: Math.min(c.loraRank, dModel) } : {}),
    };
  }
  return {
    ...c,
    dModel,
    heads: headsFor(dModel, c.heads, c.precision),
    vocab: div(c.vocab, SCALE_FLOORS.vocab),
    layers,
    seq: div(c.seq, SCALE_FLOORS.seq),
    batch: div(c.batch, SCALE_FLOORS.batch),
    // A LoRA rank stays within the scaled width (its narrowest adapted projection).
    ...(c.loraRank ? { loraRank: Math.min(c.loraRank, dModel) } : {}),
  };
}

/** A CNN divided by `factor` (a power of two): batch, and cnn-cifar's blocks per stage and width, each kept at its floor. */
export function scaleCnn(c: CnnRunConfig, factor: number): CnnRunConfig {
  if (!Number.isInteger(Math.log2(factor)) || factor < 1) throw new RangeError(`scale factor must be a power of two, got ${factor}`);
  const div = (v: number, floor: number) => Math.max(Math.min(v, floor), Math.floor(v / factor));
  const batch = div(c.batch, SCALE_FLOORS.batch);
  if (c.model === 'cnn-mnist') return { ...c, batch };
  return { ...c, batch, blocks: div(c.blocks, SCALE_FLOORS.cnnBlocks), width: div(c.width, SCALE_FLOORS.cnnWidth) };
}

/** Any scalable run divided by `factor`. */
export function scaleRun<C extends ScalableRunConfig>(c: C, factor: number, minLayers?: number): C {
  return (isCnn(c) ? scaleCnn(c, factor) : scaleGpt(c as DecoderRunConfig, factor, minLayers)) as C;
}

/** "d 1600→100, layers 48→3, vocab 50257→3141, seq 16→8": only what changed, in that order. */
export function describeChanges(from: ScalableRunConfig, to: ScalableRunConfig): string {
  const fields: [string, keyof GptRunConfig | keyof LlamaRunConfig | keyof CnnRunConfig][] = [
    ['d', 'dModel'],
    ['heads', 'heads'],
    ['kv heads', 'kvHeads'],
    ['inner', 'inner'],
    ['layers', 'layers'],
    ['vocab', 'vocab'],
    ['seq', 'seq'],
    ['batch', 'batch'],
    ['LoRA rank', 'loraRank'],
    ['blocks', 'blocks'],
    ['width', 'width'],
  ];
  return fields
    .filter(([, k]) => k in from && (from as Record<string, unknown>)[k] !== (to as Record<string, unknown>)[k])
    .map(([label, k]) => `${label} ${String((from as Record<string, unknown>)[k])}→${String((to as Record<string, unknown>)[k])}`)
    .join(', ');
}

export type ScalePlan<C extends ScalableRunConfig = GptRunConfig> =
  | { kind: 'fits'; config: C; check: FitCheck }
  | { kind: 'scaled'; factor: number; config: C; check: FitCheck; original: FitCheck; message: string }
  | { kind: 'refused'; original: FitCheck; message: string };

const bytesText = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / MiB).toFixed(1)} MiB`);
const flopsText = (f: number) => (f >= 1e9 ? `${(f / 1e9).toFixed(1)} GFLOP` : `${(f / 1e6).toFixed(0)} MFLOP`);

/** "the estimated peak, 25.31 GiB, is over this device's memory budget of 1.00 GiB" */
export function describeExcess(e: Excess, budget: DeviceBudget): string {
  const amount = e.limit === 'compute budget' ? flopsText(e.needed) : bytesText(e.needed);
  const allowed = e.limit === 'compute budget' ? `${flopsText(e.allowed)} per step` : bytesText(e.allowed);
  const kind = e.limit === 'memory budget' || e.limit === 'compute budget' ? ` (${budget.software ? 'a software adapter' : 'a GPU'})` : '';
  return `${e.what}, ${amount}, is over this device's ${e.limit} of ${allowed}${kind}`;
}

/**
 * What to run on this device: the configuration itself when it fits; else the smallest
 * power-of-two scale-down that fits, with the sentence the UI shows; else a refusal naming
 * the limit that even the smallest model breaks.
 */
export function planForDevice<C extends ScalableRunConfig>(c: C, budget: DeviceBudget, minLayers?: number): ScalePlan<C> {
  const original = checkFit(c, budget);
  if (original.over.length === 0) return { kind: 'fits', config: c, check: original };
  let last = c;
  for (let factor = 2; factor <= MAX_SCALE_FACTOR; factor *= 2) {
    const scaled = scaleRun(c, factor, minLayers);
    // Every dimension at its floor: more division changes nothing.
    if (describeChanges(last, scaled) === '' && factor > 2) break;
    last = scaled;
    const check = checkFit(scaled, budget);
    if (check.over.length === 0) {
      const why = original.over.map((e) => describeExcess(e, budget)).join('; ');
      return {
        kind: 'scaled',
        factor,
        config: scaled,
        check,
        original,
        message: `Scaled down ×${factor} to fit this device: ${describeChanges(c, scaled)} (${why}).`,
      };
    }
  }
  const still = checkFit(last, budget).over[0] ?? original.over[0]!;
  return {
    kind: 'refused',
    original,
    message: `Refused: even scaled down as far as it goes, ${describeExcess(still, budget)}; choose a smaller model.`,
  };
}

/** The sentence for running the full-size model when it does not fit (scaling turned off). */
export function refusalOf(plan: Exclude<ScalePlan<ScalableRunConfig>, { kind: 'fits' }>, budget: DeviceBudget): string {
  if (plan.kind === 'refused') return plan.message;
  return `Refused at full size: ${plan.original.over.map((e) => describeExcess(e, budget)).join('; ')}. Tick "run scaled down" to run the ×${plan.factor} model.`;
}
