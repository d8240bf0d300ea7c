/**
 * `vramlab bench`: the same work on vramlab's engine and on TensorFlow.js's WebGPU backend, in
 * one process on the adapter Dawn finds, one JSON line (or table row) per work item with both
 * columns and their ratio. Each side is set up first (buffers, tensors, pipelines: untimed),
 * then the two alternate iteration by iteration (alternate(): a b, b a, a b…), warm-up pairs
 * first, and are torn down after. What is timed, on both sides alike, is one iteration's wall
 * clock from its start until its GPU work is done: a matmul is one product, submitted and
 * waited for; a training step is forward, backward and the Adam update, ending in its loss's
 * readback. A column's ms is the median over the timed iterations; the ratio is TF.js ms ÷
 * vramlab ms per pair, its median and spread. Memory: bytes in use at the peak next to bytes
 * allocated from the GPU.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadavg, availableParallelism } from 'node:os';
import { compareLaunches, openTrainingSteps, type OptimizerLaunch } from '../engine/run.ts';
import { createMatmulUnderTest, createSquareMatmul, gpuSplitKSlices, type MatmulVariant } from '../engine/tune.ts';
import { Ledger } from '../engine/ledger.ts';
import type { OpenedDevice } from '../engine/device.ts';
import type { z } from 'zod';
import type { AdapterSummary } from '../protocol/engine-api.ts';
import type { BenchAbLineSchema, BenchLineSchema } from '../protocol/outputs.ts';
import type { Same } from '../protocol/messages.ts';
import { DEFAULT_RUN, GPT_NANO_RUN, type GptRunConfig, type RunConfig } from '../protocol/run.ts';
import type { GptBenchConfig, MlpBenchConfig, TfjsRunner, TfjsSteps } from './bench-tfjs.ts';

export type BenchKind = 'matmul' | 'mlp' | 'gpt';

export interface MatmulWork {
  kind: 'matmul';
  id: string;
  n: number;
  /** Also time the kernel variants (the line's splitK and prefetch). */
  variants?: true;
}
/** The shapes are TF.js's configs (the same models); the activation is always gelu here. */
export interface MlpWork extends Omit<MlpBenchConfig, 'activation'> {
  kind: 'mlp';
  id: string;
  /** fp32 unless given; an amp line has no TF.js column (TF.js trains in f32 only). */
  precision?: 'amp-bf16' | 'amp-fp16';
}
export interface GptWork extends GptBenchConfig {
  kind: 'gpt';
  id: string;
}
export type BenchWork = MatmulWork | MlpWork | GptWork;

/**
 * The work: the shapes of the speed targets on a GPU; with `quick`, shapes SwiftShader (a few hundred
 * MFLOP/s) finishes in seconds, for CI.
 */
export function benchWorks(quick: boolean): BenchWork[] {
  if (quick) {
    return [
      { kind: 'matmul', id: 'matmul-64', n: 64 },
      { kind: 'matmul', id: 'matmul-128', n: 128 },
      { kind: 'matmul', id: 'matmul-256', n: 256, variants: true },
      { kind: 'mlp', id: 'mlp-d64-h256-b64', d: 64, hidden: 256, layers: 4, batch: 64 },
      { kind: 'mlp', id: 'mlp-d128-h512-b128', d: 128, hidden: 512, layers: 4, batch: 128 },
      { kind: 'mlp', id: 'mlp-d128-h512-b128-amp-bf16', d: 128, hidden: 512, layers: 4, batch: 128, precision: 'amp-bf16' },
      { kind: 'gpt', id: 'gpt-nano', vocab: GPT_NANO_RUN.vocab, dModel: GPT_NANO_RUN.dModel, heads: GPT_NANO_RUN.heads, layers: GPT_NANO_RUN.layers, seq: GPT_NANO_RUN.seq, batch: GPT_NANO_RUN.batch },
    ];
  }
  return [
    { kind: 'matmul', id: 'matmul-1024', n: 1024 },
    { kind: 'matmul', id: 'matmul-2048', n: 2048 },
    { kind: 'matmul', id: 'matmul-4096', n: 4096, variants: true },
    { kind: 'mlp', id: 'mlp-d1024-h4096-b512', d: 1024, hidden: 4096, layers: 4, batch: 512 },
    { kind: 'mlp', id: 'mlp-d4096-h16384-b2048', d: 4096, hidden: 16384, layers: 4, batch: 2048 },
    { kind: 'mlp', id: 'mlp-d4096-h16384-b2048-amp-bf16', d: 4096, hidden: 16384, layers: 4, batch: 2048, precision: 'amp-bf16' },
    { kind: 'gpt', id: 'gpt-d768-l4-s512-b8', vocab: 8192, dModel: 768, heads: 12, layers: 4, seq: 512, batch: 8 },
  ];
}

/** Floating-point operations of one unit of the work (matmul: one product; else one training step). */
export function workFlops(w: BenchWork): number {
  if (w.kind === 'matmul') return 2 * w.n ** 3;
  // Per block: two products of 2·B·d·h forward, twice that backward (input and weight grads).
  if (w.kind === 'mlp') return 12 * w.batch * w.d * w.hidden * w.layers;
  // PaLM's model FLOPs (Chowdhery et al. 2022, app. B): 6·N·T + 12·L·d·s·T, N the parameters.
  const tokens = w.batch * w.seq;
  const params = w.vocab * w.dModel + w.seq * w.dModel + w.layers * (12 * w.dModel ** 2 + 13 * w.dModel) + 2 * w.dModel;
  return 6 * params * tokens + 12 * w.layers * w.dModel * w.seq * tokens;
}

export interface EngineResult {
  /** Median wall ms of the timed iterations (see the top of this file for what one holds). */
  ms: number;
  gflops: number;
  iters: number;
  /** Bytes held by live tensors at the peak. */
  peakBytes: number;
  /** Bytes the engine held from the GPU at its peak (vramlab: physical, alignment and buffers awaiting destroy included). */
  allocatedBytes: number;
  allocatedOverPeak: number;
  loss?: number;
  /** vramlab training steps: CPU ms recording a step's commands (RunReport.timing.recordMs). */
  recordMs?: number;
  /** vramlab training steps: what one step launches (RunReport.work). */
  counts?: LaunchCounts;
}

export interface LaunchCounts {
  dispatches: number;
  computePasses: number;
  clears: number;
  readbacks: number;
  /** Command buffers submitted per step (one per phase turn). */
  submits: number;
}
export type EngineOutcome = EngineResult | { error: string };

export interface DriverCheck {
  /** nvidia-smi memory.used rise while the matmul's buffers were held, in bytes. */
  driverBytes: number;
  ledgerBytes: number;
  ratio: number;
}

export interface BenchLine {
  work: string;
  kind: BenchKind;
  shape: Record<string, number>;
  /** fp32, or the amp mode of an mlp line. */
  precision: 'fp32' | 'amp-bf16' | 'amp-fp16';
  flops: number;
  vramlab: EngineOutcome;
  /** null when TF.js was not asked for (--no-tfjs) or cannot run the work alike (amp). */
  tfjs: EngineOutcome | null;
  /** vramlab's speed over TF.js's (TF.js ms ÷ vramlab ms, the two columns' medians); > 1 means vramlab is faster. */
  vramlabOverTfjs: number | null;
  /** TF.js ms ÷ vramlab ms in each alternated pair of iterations: median and spread; null unless both ran. */
  pairRatio: PairRatio | null;
  /** nvidia-smi against the ledger, where nvidia-smi exists (matmul lines only). */
  driver?: DriverCheck | { error: string };
  /** Matmul lines: the engine's matmul against the plain kernel, alternated product by product. */
  againstPlain?: PlainComparison | { error: string };
  /** Matmul lines with variants: split-K against unsplit on a weight gradient. */
  splitK?: SplitKComparison | { error: string };
  /** Matmul lines with variants: the register prefetch on against off, n³ in f32 and in bf16. */
  prefetch?: { f32: VariantComparison; bf16: VariantComparison } | { error: string };
  adapter: { name: string; features: string[]; fallback: boolean; tiles: string };
  timing: 'wall-clock';
}

// Compile-time: the JSON Schema shipped for `bench --json` (protocol/outputs.ts) is this line's.
const LINE_MATCHES_SCHEMA: Same<z.infer<typeof BenchLineSchema>, BenchLine> = true;
void LINE_MATCHES_SCHEMA;

/**
 * The engine's (tiled) matmul against the plain one-element-per-invocation kernel on the same
 * operands and adapter, one product of each in turn per round: medians of each, and the plain
 * kernel's ms ÷ the engine's per round (above 1: the engine's is faster), median and range.
 */
export interface PlainComparison {
  rounds: number;
  tiledMs: number;
  plainMs: number;
  speedup: { median: number; min: number; max: number };
}

/** The median and spread of a per-pair ratio over `pairs` pairs (quartiles interpolated, see quantile). */
export interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}
export interface PairRatio extends Spread {
  of: 'tfjs ms / vramlab ms, per alternated pair';
  pairs: number;
}

/**
 * Variant b of the engine's matmul against variant a on the same operands, alternated as
 * PlainComparison: medians of each, and a's ms ÷ b's per round (above 1: b is faster).
 */
export interface VariantComparison {
  rounds: number;
  aMs: number;
  bMs: number;
  speedup: { median: number; min: number; max: number };
}

/**
 * dW = Xᵀ·dY of a weight gradient, M = N = n/4, K = 16n (a: unsplit, b: split-K), f32: at the
 * slices a GPU would use (gpuSplitKSlices), and the slices this adapter's own choice makes.
 */
export interface SplitKComparison extends VariantComparison {
  M: number;
  N: number;
  K: number;
  slices: number;
  autoSlices: number;
}

export interface BenchOptions {
  quick: boolean;
  tfjs: boolean;
  only?: BenchKind;
  iters?: number;
  onProgress?: (text: string) => void;
  /** What the engine's matmul tiles are (reported in every line). */
  tiles: string;
  /** How training steps launch their optimizer (VRAMLAB_OPTIMIZER); default fused. */
  optimizerLaunch?: OptimizerLaunch;
  /** Time split-K and the prefetch on the line marked `variants` (`--variants`; default: unless quick). */
  variants?: boolean;
}

export function adapterName(s: AdapterSummary): string {
  return s.description || [s.vendor, s.architecture, s.device].filter(Boolean).join(' ') || 'unknown adapter';
}

const errorOf = (e: unknown): { error: string } => ({ error: e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e) });

function result(ms: number, iters: number, flops: number, peakBytes: number, allocatedBytes: number, loss?: number): EngineResult {
  return {
    ms,
    gflops: flops / (ms * 1e6),
    iters,
    peakBytes,
    allocatedBytes,
    allocatedOverPeak: peakBytes > 0 ? allocatedBytes / peakBytes : 0,
    ...(loss === undefined ? {} : { loss }),
  };
}

/** Iterations per work item: enough to average out submission noise, few enough for SwiftShader. */
function itersFor(quick: boolean, given?: number): { warmup: number; iters: number } {
  if (given !== undefined) return { warmup: 1, iters: given };
  return quick ? { warmup: 1, iters: 3 } : { warmup: 2, iters: 10 };
}

/** nvidia-smi's memory.used of the first GPU, in bytes; null where there is no nvidia-smi. */
export async function nvidiaSmiUsedBytes(): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { timeout: 10_000 });
    return parseNvidiaSmiMiB(stdout);
  } catch {
    return null;
  }
}

/** The first line of `nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits` (MiB) in bytes. */
export function parseNvidiaSmiMiB(stdout: string): number {
  const first = stdout.trim().split('\n')[0]?.trim() ?? '';
  if (!/^\d+$/.test(first)) throw new Error(`nvidia-smi printed '${first.slice(0, 40)}', not a MiB count`);
  return Number(first) * 2 ** 20;
}

// ---- alternation -------------------------------------------------------------------------------

/** One side of an alternated comparison, set up before the timing and torn down after it. */
export interface Stepper {
  /** One iteration, resolved once its GPU work is done: what alternate() times. */
  step(): Promise<unknown>;
  /** Called once between the warm-up and the first timed iteration (a peak or a median starts over). */
  restart?(): void;
}

/** One side's timed iterations in wall ms, in order; `error` when a step threw (the side stopped there). */
export interface SideTimes {
  ms: number[];
  error?: unknown;
}

/**
 * `a` and `b` alternated iteration by iteration in this process: pair i is one iteration of
 * each, a first when i is even and b first when it is odd (a b, b a, a b…, pairs counted from
 * the first warm-up one), so neither side always follows the other and drift in the machine's
 * load reaches both alike. `warmup` pairs untimed, then `iters` timed pairs. An iteration's
 * time is the wall clock from the call of step() to its resolution. A side that is null, or
 * whose step throws, sits out (its error kept); the other goes on alone.
 */
export async function alternate(a: Stepper | null, b: Stepper | null, it: { warmup: number; iters: number }, now: () => number = () => performance.now()): Promise<[SideTimes, SideTimes]> {
  const sides = [a, b] as const;
  const out: [SideTimes, SideTimes] = [{ ms: [] }, { ms: [] }];
  const once = async (k: 0 | 1, timed: boolean) => {
    const s = sides[k];
    if (!s || 'error' in out[k]) return;
    const t0 = now();
    try {
      await s.step();
    } catch (e) {
      out[k].error = e;
      return;
    }
    const t = now() - t0;
    if (timed) out[k].ms.push(t);
  };
  for (let i = 0; i < it.warmup + it.iters; i++) {
    if (i === it.warmup) for (const s of sides) s?.restart?.();
    const timed = i >= it.warmup;
    for (const k of i % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) await once(k, timed);
  }
  return out;
}

/** num[i] ÷ den[i] per pair: median, quartiles and range (NaN for no pairs). */
export function pairSpread(num: readonly number[], den: readonly number[]): Spread {
  if (num.length !== den.length) throw new Error(`pairSpread: ${num.length} numerators for ${den.length} denominators`);
  const r = num.map((x, i) => x / den[i]!);
  return { median: quantile(r, 0.5), q1: quantile(r, 0.25), q3: quantile(r, 0.75), min: r.length ? Math.min(...r) : NaN, max: r.length ? Math.max(...r) : NaN };
}

// ---- the two sides of a work item ------------------------------------------------------------

/** A side of a bench line: its Stepper, its result from the timed iterations, its teardown. */
interface BenchSide extends Stepper {
  /** The side's result; `ms` is the timed iterations' wall ms (non-empty). */
  result(ms: number[]): EngineResult;
  dispose(): void;
}

const medianOf = (xs: readonly number[]) => quantile(xs, 0.5);

/**
 * vramlab's square matmul, set up: A, B and the output in a ledger of their own. Where
 * nvidia-smi answers, one product runs first and the driver's memory.used is read while the
 * buffers are held, before TF.js is set up (its buffers would count too).
 */
async function vramlabMatmul(opened: OpenedDevice, w: MatmulWork, driver: boolean): Promise<BenchSide & { driver?: BenchLine['driver'] }> {
  const { device } = opened;
  const ledger = new Ledger(device);
  try {
    const before = driver ? await nvidiaSmiUsedBytes() : null;
    const product = await createSquareMatmul(device, ledger, w.n, 'bench');
    // A step: one product, submitted and waited for, as on the TF.js side.
    const step = async () => {
      const enc = device.createCommandEncoder({ label: 'bench.matmul' });
      product.record(enc);
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    let check: BenchLine['driver'];
    if (before !== null) {
      await step();
      const held = await nvidiaSmiUsedBytes();
      check = held === null ? { error: 'nvidia-smi stopped answering' } : { driverBytes: held - before, ledgerBytes: ledger.liveAllocatedBytes, ratio: (held - before) / ledger.liveAllocatedBytes };
    }
    return {
      step,
      result: (ms) => result(medianOf(ms), ms.length, workFlops(w), ledger.peakBytes, ledger.physicalPeakBytes),
      dispose: () => ledger.dispose(),
      ...(check ? { driver: check } : {}),
    };
  } catch (e) {
    ledger.dispose();
    throw e;
  }
}

/** A vramlab training step, set up (engine/run.ts openTrainingSteps: a step ends in its loss's readback). */
async function vramlabTraining(opened: OpenedDevice, w: MlpWork | GptWork, launch: OptimizerLaunch): Promise<BenchSide> {
  const steps = await openTrainingSteps(opened, w.kind === 'mlp' ? mlpRun(w) : gptRun(w), { optimizerLaunch: launch });
  return {
    step: () => steps.step(),
    restart: () => steps.restart(),
    result: (ms) => {
      const m = steps.measure();
      return { ...result(medianOf(ms), ms.length, workFlops(w), m.peakBytes, m.physicalPeakBytes, m.loss), recordMs: m.recordMs, counts: countsOf(m) };
    },
    dispose: () => steps.dispose(),
  };
}

/** The same work on TF.js, set up (bench-tfjs.ts: what a step holds is the same as ours). */
async function tfjsSide(tf: TfjsRunner, w: BenchWork): Promise<BenchSide> {
  const steps: TfjsSteps = w.kind === 'matmul' ? await tf.matmul(w.n) : w.kind === 'mlp' ? await tf.mlp({ ...w, activation: 'gelu' }, 1) : await tf.gpt(w, 1);
  let loss: number | undefined;
  return {
    step: async () => {
      loss = await steps.step();
    },
    restart: () => steps.restart(),
    result: (ms) => {
      const m = steps.measure();
      return result(medianOf(ms), ms.length, workFlops(w), m.peakInUseBytes, m.allocatedBytes, loss);
    },
    dispose: () => steps.dispose(),
  };
}

/** A Stepper of one product: recorded, submitted and waited for. */
function productStepper(device: GPUDevice, record: (enc: GPUCommandEncoder) => void): Stepper {
  return {
    step: async () => {
      const enc = device.createCommandEncoder({ label: 'bench.product' });
      record(enc);
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    },
  };
}

/** PlainComparison over `rounds` rounds (at least 3), after one warm-up product of each, alternated as the bench's sides. */
export async function matmulAgainstPlain(device: GPUDevice, n: number, rounds: number): Promise<PlainComparison> {
  const ledger = new Ledger(device);
  try {
    const product = await createSquareMatmul(device, ledger, n, 'bench.plain');
    const [tiled, plain] = await alternate(productStepper(device, product.record), productStepper(device, product.recordPlain), { warmup: 1, iters: Math.max(3, rounds) });
    for (const side of [tiled, plain]) if ('error' in side) throw side.error;
    const { median, min, max } = pairSpread(plain.ms, tiled.ms);
    return { rounds: tiled.ms.length, tiledMs: medianOf(tiled.ms), plainMs: medianOf(plain.ms), speedup: { median, min, max } };
  } finally {
    ledger.dispose();
  }
}

/** VariantComparison of b against a on one product, over `rounds` rounds (at least 5), after a warm-up of each. */
async function matmulVariants(device: GPUDevice, shape: Parameters<typeof createMatmulUnderTest>[2], a: MatmulVariant, b: MatmulVariant, rounds: number): Promise<{ c: VariantComparison; autoSlices: number }> {
  const ledger = new Ledger(device);
  try {
    const product = await createMatmulUnderTest(device, ledger, shape, 'bench.variants');
    const [ta, tb] = await alternate(productStepper(device, (enc) => product.record(enc, a)), productStepper(device, (enc) => product.record(enc, b)), { warmup: 1, iters: Math.max(5, rounds) });
    for (const side of [ta, tb]) if ('error' in side) throw side.error;
    const { median, min, max } = pairSpread(ta.ms, tb.ms);
    return { c: { rounds: ta.ms.length, aMs: medianOf(ta.ms), bMs: medianOf(tb.ms), speedup: { median, min, max } }, autoSlices: product.autoSlices };
  } finally {
    ledger.dispose();
  }
}

/** SplitKComparison for a weight gradient of side n/4 and K = 16n. */
export async function matmulSplitKComparison(device: GPUDevice, n: number, rounds: number): Promise<SplitKComparison> {
  const M = Math.max(1, n >> 2);
  const K = 16 * n;
  const slices = gpuSplitKSlices(device, M, M, K);
  const { c, autoSlices } = await matmulVariants(device, { M, N: M, K, storage: 'f32', aTransposed: true, splitK: slices }, { splitK: 'off' }, { splitK: slices }, rounds);
  return { M, N: M, K, slices, autoSlices, ...c };
}

/** The register prefetch (b) against none (a) at n³, in f32 and with A, B and out in bf16. */
export async function matmulPrefetchComparison(device: GPUDevice, n: number, rounds: number): Promise<{ f32: VariantComparison; bf16: VariantComparison }> {
  const of = async (storage: 'f32' | 'bf16') => (await matmulVariants(device, { M: n, N: n, K: n, storage, aTransposed: false }, { prefetch: false }, { prefetch: true }, rounds)).c;
  return { f32: await of('f32'), bf16: await of('bf16') };
}

function mlpRun(w: MlpWork): RunConfig {
  return { ...DEFAULT_RUN, d: w.d, hidden: w.hidden, layers: w.layers, batch: w.batch, activation: 'gelu', precision: w.precision ?? 'fp32', optimizer: 'adam', checkpoint: 'none', seed: 1 };
}

function gptRun(w: GptWork): GptRunConfig {
  return { ...GPT_NANO_RUN, vocab: w.vocab, dModel: w.dModel, heads: w.heads, layers: w.layers, seq: w.seq, batch: w.batch, attention: 'fused', precision: 'fp32', optimizer: 'adam', checkpoint: 'none', seed: 1 };
}

/** TF.js runs only what it can run alike: f32 work. */
function tfjsRuns(w: BenchWork): boolean {
  return w.kind !== 'mlp' || w.precision === undefined;
}

function shapeOf(w: BenchWork): Record<string, number> {
  return Object.fromEntries(Object.entries(w).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

/** A side's outcome: its set-up's failure, its step's, or its result. */
function outcomeOf(side: BenchSide | { error: string }, times: SideTimes): EngineOutcome {
  if ('error' in side) return side;
  if ('error' in times) return errorOf(times.error);
  try {
    return side.result(times.ms);
  } catch (e) {
    return errorOf(e);
  }
}

/**
 * Runs the work, one line each, in order: per work item vramlab and (where asked and able)
 * TF.js set up, alternated by alternate(), torn down; an engine's failure on one item is
 * reported in its column and the other engine still runs.
 */
export async function runBench(opened: OpenedDevice, opts: BenchOptions, emit: (line: BenchLine) => void): Promise<BenchLine[]> {
  const works = benchWorks(opts.quick).filter((w) => !opts.only || w.kind === opts.only);
  const adapter = { name: adapterName(opened.summary), features: opened.summary.features, fallback: opened.summary.isFallbackAdapter, tiles: opts.tiles };
  let tf: TfjsRunner | null = null;
  let tfError: string | null = null;
  if (opts.tfjs) {
    try {
      const mod = await import('./bench-tfjs.ts');
      opts.onProgress?.('bench: starting TensorFlow.js (WebGPU backend)');
      tf = await mod.openTfjs();
    } catch (e) {
      tfError = `TensorFlow.js could not start (${errorOf(e).error}); it is a dev dependency: run npm install`;
    }
  }
  const driver = (await nvidiaSmiUsedBytes()) !== null;
  const lines: BenchLine[] = [];
  try {
    for (const [i, w] of works.entries()) {
      const it = itersFor(opts.quick, opts.iters);
      const step = `[${i + 1}/${works.length}] ${w.id}`;
      const withTfjs = opts.tfjs && tfjsRuns(w);
      opts.onProgress?.(`bench: ${step}: setting up vramlab${withTfjs ? ' and TensorFlow.js' : ''}`);
      // vramlab first: its driver check must see its buffers alone.
      const v: (BenchSide & { driver?: BenchLine['driver'] }) | { error: string } = await (w.kind === 'matmul' ? vramlabMatmul(opened, w, driver) : vramlabTraining(opened, w, opts.optimizerLaunch ?? 'fused')).catch(errorOf);
      let t: BenchSide | { error: string } | null = null;
      let vramlab: EngineOutcome;
      let tfjs: EngineOutcome | null = null;
      let pairRatio: PairRatio | null = null;
      try {
        if (withTfjs) t = tf ? await tfjsSide(tf, w).catch(errorOf) : { error: tfError! };
        const live = (s: BenchSide | { error: string } | null) => (s && !('error' in s) ? s : null);
        opts.onProgress?.(`bench: ${step}: ${live(t) ? 'vramlab and TensorFlow.js alternated, ' : ''}${it.warmup} warm-up + ${it.iters} timed iterations`);
        const [vt, tt] = await alternate(live(v), live(t), it);
        vramlab = outcomeOf(v, vt);
        tfjs = t && outcomeOf(t, tt);
        if ('ms' in vramlab && tfjs && 'ms' in tfjs) pairRatio = { of: 'tfjs ms / vramlab ms, per alternated pair', pairs: vt.ms.length, ...pairSpread(tt.ms, vt.ms) };
      } finally {
        for (const s of [v, t]) if (s && !('error' in s)) s.dispose();
      }
      let againstPlain: BenchLine['againstPlain'];
      let splitK: BenchLine['splitK'];
      let prefetch: BenchLine['prefetch'];
      if (w.kind === 'matmul' && 'ms' in vramlab) {
        opts.onProgress?.(`bench: ${step}: against the plain matmul`);
        againstPlain = await matmulAgainstPlain(opened.device, w.n, it.iters).catch(errorOf);
        if (w.variants && opts.variants) {
          opts.onProgress?.(`bench: ${step}: split-K and prefetch variants`);
          splitK = await matmulSplitKComparison(opened.device, w.n, it.iters).catch(errorOf);
          prefetch = await matmulPrefetchComparison(opened.device, w.n, it.iters).catch(errorOf);
        }
      }
      const check = 'error' in v ? undefined : v.driver;
      const ratio = tfjs && 'ms' in tfjs && 'ms' in vramlab ? tfjs.ms / vramlab.ms : null;
      const precision = (w.kind === 'mlp' ? w.precision : undefined) ?? 'fp32';
      const line: BenchLine = { work: w.id, kind: w.kind, shape: shapeOf(w), precision, flops: workFlops(w), vramlab, tfjs, vramlabOverTfjs: ratio, pairRatio, ...(check ? { driver: check } : {}), ...(againstPlain ? { againstPlain } : {}), ...(splitK ? { splitK } : {}), ...(prefetch ? { prefetch } : {}), adapter, timing: 'wall-clock' };
      lines.push(line);
      emit(line);
    }
  } finally {
    await tf?.dispose();
  }
  return lines;
}

// ---- the optimizer launches side by side (bench --ab) -----------------------------------------

/** One line of `bench --ab`: launch b against launch a on the same step, alternated step by step. */
export interface AbLine {
  work: string;
  kind: 'mlp' | 'gpt';
  shape: Record<string, number>;
  launches: { a: OptimizerLaunch; b: OptimizerLaunch };
  iters: number;
  /** Medians over the timed steps. */
  cpuMsPerStep: { a: number; b: number };
  wallMsPerStep: { a: number; b: number };
  /** b's CPU time over a's, per pair of consecutive steps (a then b): its median and spread. */
  ratio: { of: 'cpu b / cpu a, per pair of steps'; median: number; q1: number; q3: number; min: number; max: number };
  counts: { a: LaunchCounts; b: LaunchCounts };
  /** The last step's loss on each side (null where it is not finite: JSON has no NaN). */
  loss: { a: number | null; b: number | null };
  adapter: string;
  /** os.loadavg() when the line was measured: 1, 5 and 15 minutes. */
  loadAverage: [number, number, number];
  cpus: number;
}

const AB_MATCHES_SCHEMA: Same<z.infer<typeof BenchAbLineSchema>, AbLine> = true;
void AB_MATCHES_SCHEMA;

/** The steps compared: the run's default mlp with 4 blocks, and gpt-nano. */
export function abWorks(): { id: string; cfg: RunConfig | GptRunConfig }[] {
  return [
    { id: 'mlp-4-blocks', cfg: { ...DEFAULT_RUN, layers: 4 } },
    { id: 'gpt-nano', cfg: { ...GPT_NANO_RUN } },
  ];
}

/** The q-quantile of xs by linear interpolation between order statistics. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

/** A step's launch counts, from what its recorder counted. */
function countsOf({ work }: { work: LaunchCounts }): LaunchCounts {
  return { dispatches: work.dispatches, computePasses: work.computePasses, clears: work.clears, readbacks: work.readbacks, submits: work.submits };
}

/** Process CPU time in ms (user + system, all threads: on a CPU adapter the device's work too). */
export const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * `bench --ab`: per work, launch a (per-tensor, the engine's earlier optimizer launch) and b
 * (fused) alternated step by step in this process, `iters` timed steps each after 2 warm-up
 * steps each; one line per work.
 */
export async function runAb(opened: OpenedDevice, opts: { iters: number; onProgress?: (text: string) => void }, emit: (line: AbLine) => void): Promise<AbLine[]> {
  const lines: AbLine[] = [];
  const launches = ['per-tensor', 'fused'] as const;
  for (const w of abWorks()) {
    opts.onProgress?.(`bench --ab: ${w.id}, ${launches[0]} and ${launches[1]} alternated, ${opts.iters} steps each`);
    const [a, b] = await compareLaunches(opened, w.cfg, { launches, iters: opts.iters, warmup: 2, cpuMs: processCpuMs });
    const [l1, l5, l15] = loadavg() as [number, number, number];
    const shape = Object.fromEntries(Object.entries(w.cfg).filter((e): e is [string, number] => typeof e[1] === 'number' && e[0] !== 'seed' && e[0] !== 'steps'));
    const line: AbLine = {
      work: w.id,
      kind: w.cfg.model === 'gpt' ? 'gpt' : 'mlp',
      shape,
      launches: { a: launches[0], b: launches[1] },
      iters: opts.iters,
      cpuMsPerStep: { a: medianOf(a.cpuMs), b: medianOf(b.cpuMs) },
      wallMsPerStep: { a: medianOf(a.wallMs), b: medianOf(b.wallMs) },
      ratio: { of: 'cpu b / cpu a, per pair of steps', ...pairSpread(b.cpuMs, a.cpuMs) },
      counts: { a: countsOf(a), b: countsOf(b) },
      loss: { a: Number.isFinite(a.loss) ? a.loss : null, b: Number.isFinite(b.loss) ? b.loss : null },
      adapter: adapterName(opened.summary),
      loadAverage: [l1, l5, l15],
      cpus: availableParallelism(),
    };
    lines.push(line);
    emit(line);
  }
  return lines;
}
