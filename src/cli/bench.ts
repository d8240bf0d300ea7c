/**
 * `vramlab bench`: the same work on vramlab's engine and on TensorFlow.js's WebGPU backend, in
 * one process on the adapter Dawn finds, one JSON line (or table row) per work item with both
 * columns and their ratio. Timings are wall-clock from submission to the GPU's completion,
 * after warm-up: a matmul is the mean over `iters` products, each submitted and waited for; a
 * training step (forward, backward, optimizer, waited for) is the run loop's median step after
 * the first on vramlab, the mean of `iters` steps, each ending in its loss readback, on TF.js. Memory: bytes in use at the peak next to bytes allocated from the GPU.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadavg, availableParallelism } from 'node:os';
import { compareLaunches, runGptTraining, runTraining, type LaunchTimes, type OptimizerLaunch } from '../engine/run.ts';
import { createSquareMatmul } from '../engine/tune.ts';
import { Ledger } from '../engine/ledger.ts';
import type { OpenedDevice } from '../engine/device.ts';
import type { z } from 'zod';
import type { AdapterSummary } from '../protocol/engine-api.ts';
import type { BenchAbLineSchema, BenchLineSchema } from '../protocol/outputs.ts';
import type { Same } from '../protocol/messages.ts';
import { DEFAULT_RUN, GPT_NANO_RUN, type GptRunConfig, type RunConfig } from '../protocol/run.ts';
import type { GptBenchConfig, MlpBenchConfig, TfjsRunner } from './bench-tfjs.ts';

export type BenchKind = 'matmul' | 'mlp' | 'gpt';

export interface MatmulWork {
  kind: 'matmul';
  id: string;
  n: number;
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
      { kind: 'matmul', id: 'matmul-256', n: 256 },
      { kind: 'mlp', id: 'mlp-d64-h256-b64', d: 64, hidden: 256, layers: 4, batch: 64 },
      { kind: 'mlp', id: 'mlp-d128-h512-b128', d: 128, hidden: 512, layers: 4, batch: 128 },
      { kind: 'mlp', id: 'mlp-d128-h512-b128-amp-bf16', d: 128, hidden: 512, layers: 4, batch: 128, precision: 'amp-bf16' },
      { kind: 'gpt', id: 'gpt-nano', vocab: GPT_NANO_RUN.vocab, dModel: GPT_NANO_RUN.dModel, heads: GPT_NANO_RUN.heads, layers: GPT_NANO_RUN.layers, seq: GPT_NANO_RUN.seq, batch: GPT_NANO_RUN.batch },
    ];
  }
  return [
    { kind: 'matmul', id: 'matmul-1024', n: 1024 },
    { kind: 'matmul', id: 'matmul-2048', n: 2048 },
    { kind: 'matmul', id: 'matmul-4096', n: 4096 },
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
  /** vramlab's speed over TF.js's (TF.js ms ÷ vramlab ms); > 1 means vramlab is faster. */
  vramlabOverTfjs: number | null;
  /** nvidia-smi against the ledger, where nvidia-smi exists (matmul lines only). */
  driver?: DriverCheck | { error: string };
  /** Matmul lines: the engine's matmul against the plain kernel, alternated product by product. */
  againstPlain?: PlainComparison | { error: string };
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

async function vramlabMatmul(opened: OpenedDevice, w: MatmulWork, it: { warmup: number; iters: number }, driver: boolean): Promise<{ r: EngineResult; driver?: BenchLine['driver'] }> {
  const { device } = opened;
  const ledger = new Ledger(device);
  try {
    const before = driver ? await nvidiaSmiUsedBytes() : null;
    const product = await createSquareMatmul(device, ledger, w.n, 'bench');
    // Each product is submitted and waited for, as the TF.js side does.
    const run = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const enc = device.createCommandEncoder({ label: 'bench.matmul' });
        product.record(enc);
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
      }
    };
    await run(it.warmup);
    let check: BenchLine['driver'];
    if (before !== null) {
      const held = await nvidiaSmiUsedBytes();
      check = held === null ? { error: 'nvidia-smi stopped answering' } : { driverBytes: held - before, ledgerBytes: ledger.liveAllocatedBytes, ratio: (held - before) / ledger.liveAllocatedBytes };
    }
    const t0 = performance.now();
    await run(it.iters);
    const ms = (performance.now() - t0) / it.iters;
    return { r: result(ms, it.iters, workFlops(w), ledger.peakBytes, ledger.physicalPeakBytes), ...(check ? { driver: check } : {}) };
  } finally {
    ledger.dispose();
  }
}

const median = (v: readonly number[]) => {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** PlainComparison over `rounds` rounds (at least 3), after one warm-up product of each. */
export async function matmulAgainstPlain(device: GPUDevice, n: number, rounds: number): Promise<PlainComparison> {
  const ledger = new Ledger(device);
  try {
    const product = await createSquareMatmul(device, ledger, n, 'bench.plain');
    const once = async (record: (enc: GPUCommandEncoder) => void) => {
      const t0 = performance.now();
      const enc = device.createCommandEncoder({ label: 'bench.againstPlain' });
      record(enc);
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    await once(product.record);
    await once(product.recordPlain);
    const tiled: number[] = [];
    const plain: number[] = [];
    const speedup: number[] = [];
    for (let r = 0; r < Math.max(3, rounds); r++) {
      // Which goes first alternates too, so neither always runs on a warmer machine.
      let t: number;
      let p: number;
      if (r % 2 === 0) {
        t = await once(product.record);
        p = await once(product.recordPlain);
      } else {
        p = await once(product.recordPlain);
        t = await once(product.record);
      }
      tiled.push(t);
      plain.push(p);
      speedup.push(p / t);
    }
    return { rounds: tiled.length, tiledMs: median(tiled), plainMs: median(plain), speedup: { median: median(speedup), min: Math.min(...speedup), max: Math.max(...speedup) } };
  } finally {
    ledger.dispose();
  }
}

function mlpRun(w: MlpWork, steps: number): RunConfig {
  return { ...DEFAULT_RUN, d: w.d, hidden: w.hidden, layers: w.layers, batch: w.batch, activation: 'gelu', precision: w.precision ?? 'fp32', optimizer: 'adam', checkpoint: 'none', steps, seed: 1 };
}

function gptRun(w: GptWork, steps: number): GptRunConfig {
  return { ...GPT_NANO_RUN, vocab: w.vocab, dModel: w.dModel, heads: w.heads, layers: w.layers, seq: w.seq, batch: w.batch, attention: 'fused', precision: 'fp32', optimizer: 'adam', checkpoint: 'none', steps, seed: 1 };
}

async function vramlabStep(opened: OpenedDevice, w: MlpWork | GptWork, it: { warmup: number; iters: number }, launch: OptimizerLaunch): Promise<EngineResult> {
  // The run loop reports the median step after the first: warm-up is that first step.
  const steps = 1 + it.iters;
  const opts = { optimizerLaunch: launch };
  const report = w.kind === 'mlp' ? await runTraining(opened, mlpRun(w, steps), opts) : await runGptTraining(opened, gptRun(w, steps), opts);
  const { dispatches, computePasses, clears, readbacks, submits } = report.work;
  return {
    ...result(report.timing.stepMs, it.iters, workFlops(w), report.actual.peakBytes, report.actual.physicalPeakBytes, report.loss.at(-1)),
    recordMs: report.timing.recordMs,
    counts: { dispatches, computePasses, clears, readbacks, submits },
  };
}

async function tfjsWork(tf: TfjsRunner, w: BenchWork, it: { warmup: number; iters: number }): Promise<EngineResult> {
  const opts = { ...it, seed: 1 };
  if (w.kind === 'matmul') {
    const t = await tf.matmul(w.n, it);
    return result(t.ms, t.iters, workFlops(w), t.peakInUseBytes, t.allocatedBytes);
  }
  const t =
    w.kind === 'mlp'
      ? await tf.mlpStep({ ...w, activation: 'gelu' }, opts)
      : await tf.gptStep(w, opts);
  return result(t.ms, t.iters, workFlops(w), t.peakInUseBytes, t.allocatedBytes, t.loss);
}

/** TF.js runs only what it can run alike: f32 work. */
function tfjsRuns(w: BenchWork): boolean {
  return w.kind !== 'mlp' || w.precision === undefined;
}

function shapeOf(w: BenchWork): Record<string, number> {
  return Object.fromEntries(Object.entries(w).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

/** Runs the work on both engines, one line each, in order; an engine's failure on one item is reported in its column. */
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
      opts.onProgress?.(`bench: ${step} on vramlab`);
      let vramlab: EngineOutcome;
      let check: BenchLine['driver'];
      let againstPlain: BenchLine['againstPlain'];
      try {
        if (w.kind === 'matmul') {
          const m = await vramlabMatmul(opened, w, it, driver);
          vramlab = m.r;
          check = m.driver;
          opts.onProgress?.(`bench: ${step} against the plain matmul`);
          againstPlain = await matmulAgainstPlain(opened.device, w.n, it.iters).catch(errorOf);
        } else {
          vramlab = await vramlabStep(opened, w, it, opts.optimizerLaunch ?? 'fused');
        }
      } catch (e) {
        vramlab = errorOf(e);
      }
      let tfjs: EngineOutcome | null = null;
      if (opts.tfjs && tfjsRuns(w)) {
        if (tf) {
          opts.onProgress?.(`bench: ${step} on TensorFlow.js`);
          try {
            tfjs = await tfjsWork(tf, w, it);
          } catch (e) {
            tfjs = errorOf(e);
          }
        } else {
          tfjs = { error: tfError! };
        }
      }
      const ratio = tfjs && 'ms' in tfjs && 'ms' in vramlab ? tfjs.ms / vramlab.ms : null;
      const precision = (w.kind === 'mlp' ? w.precision : undefined) ?? 'fp32';
      const line: BenchLine = { work: w.id, kind: w.kind, shape: shapeOf(w), precision, flops: workFlops(w), vramlab, tfjs, vramlabOverTfjs: ratio, ...(check ? { driver: check } : {}), ...(againstPlain ? { againstPlain } : {}), adapter, timing: 'wall-clock' };
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

const countsOf = (t: LaunchTimes): LaunchCounts => ({ dispatches: t.work.dispatches, computePasses: t.work.computePasses, clears: t.work.clears, readbacks: t.work.readbacks, submits: t.work.submits });

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
    const ratios = a.cpuMs.map((x, i) => b.cpuMs[i]! / x);
    const median = (xs: number[]) => quantile(xs, 0.5);
    const [l1, l5, l15] = loadavg() as [number, number, number];
    const shape = Object.fromEntries(Object.entries(w.cfg).filter((e): e is [string, number] => typeof e[1] === 'number' && e[0] !== 'seed' && e[0] !== 'steps'));
    const line: AbLine = {
      work: w.id,
      kind: w.cfg.model === 'gpt' ? 'gpt' : 'mlp',
      shape,
      launches: { a: launches[0], b: launches[1] },
      iters: opts.iters,
      cpuMsPerStep: { a: median(a.cpuMs), b: median(b.cpuMs) },
      wallMsPerStep: { a: median(a.wallMs), b: median(b.wallMs) },
      ratio: { of: 'cpu b / cpu a, per pair of steps', median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75), min: Math.min(...ratios), max: Math.max(...ratios) },
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
