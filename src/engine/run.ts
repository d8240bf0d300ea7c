/**
 * A training run: builds the model through the ledger, runs the steps, measures time per
 * phase, and reports the ledger's measurement next to the planner's estimate. Used by the
 * worker (browser) and the CLI (Node) alike; everything it allocates is gone when it returns,
 * also when it throws.
 */
import { estimate } from '../estimate/index.ts';
import type { OpenedDevice } from './device.ts';
import { CnnTrainer } from './graph/cnn.ts';
import { GptTrainer } from './graph/gpt.ts';
import { LlamaTrainer } from './graph/llama.ts';
import { MlpTrainer } from './graph/mlp.ts';
import { Ledger } from './ledger.ts';
import { StepRecorder } from './profiler.ts';
import { ENGINE_ERRORS } from '../protocol/engine-api.ts';
import { LEDGER_CATEGORIES, LEDGER_TO_PLAN_CATEGORY, type LedgerPoint } from '../protocol/ledger.ts';
import { type CategoryBytes, type Plan, zeroCategories } from '../protocol/plan.ts';
import {
  DEFAULT_GPT_LR,
  DEFAULT_LLAMA_LR,
  type GptRunConfig,
  type GptRunReport,
  type LlamaRunConfig,
  type LlamaRunReport,
  PHASE_NAMES,
  type PhaseName,
  type RunConfig,
  type RunProgress,
  type StepWork,
  type RunReport,
  planConfigOf,
  planConfigOfGpt,
  planConfigOfLlama,
} from '../protocol/run.ts';
import { type CnnRunConfig, type CnnRunReport, DEFAULT_CNN_LR, planConfigOfCnn } from '../protocol/cnn.ts';

import { setOptimizerLaunch, type OptimizerLaunch } from './graph/trainer.ts';
export { OPTIMIZER_LAUNCHES, type OptimizerLaunch } from './graph/trainer.ts';

export interface RunOptions {
  onProgress?: (p: RunProgress) => void;
  /** Checked between steps: a cancelled run stops, frees everything and throws 'Cancelled'. */
  signal?: AbortSignal;
  /** Use wall-clock timing even where timestamp-query exists. */
  wallClock?: boolean;
  /** How the optimizer phase is launched (graph/trainer.ts OPTIMIZER_LAUNCHES); default 'fused'. */
  optimizerLaunch?: OptimizerLaunch;
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Plan-category bytes of a ledger point, readback staging left out. */
function planBytes(p: LedgerPoint): CategoryBytes {
  const out = zeroCategories();
  for (const c of LEDGER_CATEGORIES) if (c !== 'staging') out[LEDGER_TO_PLAN_CATEGORY[c]] += p.byCategory[c];
  return out;
}

const total = (c: CategoryBytes) => Object.values(c).reduce((a, b) => a + b, 0);

/** What the ledger held over one step: its points from `from` on, and the state just before. */
export function measureWindow(points: LedgerPoint[]): Pick<RunReport['actual'], 'peakBytes' | 'bytes' | 'aliveAtPeak' | 'allocatedPeakBytes'> {
  const bytes = zeroCategories();
  let peakBytes = 0;
  let aliveAtPeak = zeroCategories();
  let allocatedPeakBytes = 0;
  for (const p of points) {
    const b = planBytes(p);
    const t = total(b);
    if (t > peakBytes) {
      peakBytes = t;
      aliveAtPeak = b;
    }
    for (const k of Object.keys(bytes) as (keyof CategoryBytes)[]) bytes[k] = Math.max(bytes[k], b[k]);
    allocatedPeakBytes = Math.max(allocatedPeakBytes, p.liveAllocatedBytes - p.byCategory.staging);
  }
  return { peakBytes, bytes, aliveAtPeak, allocatedPeakBytes };
}

/**
 * How long a failed run waits for `device.lost` to settle before blaming the error itself: the
 * call that notices a loss first (Dawn's mapAsync rejects with an AbortError and no message;
 * Chrome says "A valid external Instance reference no longer exists.") can beat the promise.
 */
const LOST_GRACE_MS = 100;

/**
 * Rejections of a GPU promise (mapAsync, onSubmittedWorkDone): the only way a loss surfaces
 * as an exception, since calls on a lost device do not throw (WebGPU: they become no-ops).
 */
const GPU_ABORTS = new Set(['AbortError', 'OperationError']);

/**
 * `err`, or when the device was lost meanwhile an Error named DeviceLost that says so with the
 * driver's reason: whatever call noticed the loss first has no sentence for the user.
 */
async function lostInstead(device: GPUDevice, err: unknown, lostAlready: GPUDeviceLostInfo | null): Promise<unknown> {
  const info = lostAlready ?? (err instanceof Error && GPU_ABORTS.has(err.name) ? await lostWithin(device, LOST_GRACE_MS) : null);
  if (info === null) return err;
  const why = info.message.trim().replace(/[.\s]+$/, '') || info.reason || 'no reason given';
  const e = new Error(`The GPU device was lost (${why}); nothing was kept`, { cause: err });
  e.name = ENGINE_ERRORS.DeviceLost;
  return e;
}

/** `device.lost`'s info if it settles within `ms`, else null. */
async function lostWithin(device: GPUDevice, ms: number): Promise<GPUDeviceLostInfo | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([device.lost, grace]).finally(() => clearTimeout(timer));
}

/** The error a cancelled run fails with. */
export function cancelled(): Error {
  const e = new Error('the run was cancelled; nothing is left allocated');
  e.name = 'Cancelled';
  return e;
}

/** A model trainer the run loop drives (graph/trainer.ts). */
type AnyTrainer = MlpTrainer | GptTrainer | LlamaTrainer | CnnTrainer;

export async function runTraining(opened: OpenedDevice, cfg: RunConfig, opts: RunOptions = {}): Promise<RunReport> {
  // Also refuses what the engine cannot run, before anything is allocated.
  const plan = estimate(planConfigOf(cfg));
  const r = await runLoop(opened, plan, cfg.layers, cfg.steps, (ledger) => MlpTrainer.create(opened.device, ledger, cfg), opts);
  return { ...r, config: cfg };
}

export async function runGptTraining(opened: OpenedDevice, cfg: GptRunConfig, opts: RunOptions = {}): Promise<GptRunReport> {
  const plan = estimate(planConfigOfGpt(cfg));
  const lr = cfg.lr ?? DEFAULT_GPT_LR[cfg.optimizer];
  const r = await runLoop(opened, plan, cfg.layers, cfg.steps, (ledger) => GptTrainer.create(opened.device, ledger, cfg, lr), opts);
  return { ...r, config: cfg };
}

export async function runLlamaTraining(opened: OpenedDevice, cfg: LlamaRunConfig, opts: RunOptions = {}): Promise<LlamaRunReport> {
  const plan = estimate(planConfigOfLlama(cfg));
  const lr = cfg.lr ?? DEFAULT_LLAMA_LR[cfg.optimizer];
  const r = await runLoop(opened, plan, cfg.layers, cfg.steps, (ledger) => LlamaTrainer.create(opened.device, ledger, cfg, lr), opts);
  return { ...r, config: cfg };
}

export async function runCnnTraining(opened: OpenedDevice, cfg: CnnRunConfig, opts: RunOptions = {}): Promise<CnnRunReport> {
  const plan = estimate(planConfigOfCnn(cfg));
  const lr = cfg.lr ?? DEFAULT_CNN_LR[cfg.optimizer];
  // runLoop sizes the step recorder and the ledger's history by 'layers': the CNN's ops per step.
  const ops = plan.timeline.length;
  const r = await runLoop(opened, plan, ops, cfg.steps, (ledger) => CnnTrainer.create(opened.device, ledger, cfg, lr), opts);
  return { ...r, config: cfg };
}

async function runLoop(
  opened: OpenedDevice,
  plan: Plan,
  layers: number,
  steps: number,
  makeTrainer: (ledger: Ledger) => Promise<AnyTrainer>,
  opts: RunOptions,
): Promise<Omit<RunReport, 'config'>> {
  const { device, summary } = opened;
  // Only the last step's events are reported: keep at least a whole step's worth, so a long
  // run's history stays bounded. A GPT block makes ≈ 100 events a step under checkpointing
  // (15 tensors forward and again in recompute, 12 gradients and 7 activation gradients in
  // backward, each created and released; under LoRA ≈ 150: each projection's s·(x·A) and
  // product in forward and recompute, its adapters' gradients and two transients in backward);
  // the ledger trims to historyLimit, so that must hold the step and the event before it.
  // Pooled: after the first step, a step takes the buffers the last one released and creates none.
  const ledger = new Ledger(device, { historyLimit: 192 * (layers + 2), pool: true });
  let rec: StepRecorder | null = null;
  let lost: GPUDeviceLostInfo | null = null;
  void device.lost.then((info) => (lost = info));
  try {
    opts.onProgress?.({ stage: 'allocating', step: 0, steps });
    setOptimizerLaunch(device, opts.optimizerLaunch ?? 'fused');
    const trainer = await makeTrainer(ledger);
    // Segments per step: forward, the loss, each block's backward and recompute, embeddings, optimizer.
    rec = await StepRecorder.create(device, ledger, 4 + 2 * layers, !opts.wallClock);
    // Every pipeline the step uses, created before the first step: no step time includes a compile.
    opts.onProgress?.({ stage: 'compiling', step: 0, steps });
    const w0 = performance.now();
    const warmupPipelines = await trainer.warmUp();
    const warmupMs = performance.now() - w0;
    const loss: number[] = [];
    const stepMs: number[] = [];
    const recordMs: number[] = [];
    const phases: Record<PhaseName, number>[] = [];
    let work = rec.takeWork();
    let windowStart = 0;
    for (let s = 0; s < steps; s++) {
      if (opts.signal?.aborted) throw cancelled();
      // The state before the step is the last point before it.
      windowStart = Math.max(0, ledger.eventCount - 1);
      const t0 = performance.now();
      await trainer.step(rec);
      recordMs.push(performance.now() - t0);
      await rec.finish();
      work = rec.takeWork();
      stepMs.push(performance.now() - t0);
      // The loss and the phase times are read a step late: this step's readbacks map while the next one records.
      trainer.requestLoss();
      if (s > 0) {
        phases.push(await rec.takeTimes());
        loss.push(await trainer.takeLoss());
        opts.onProgress?.({ stage: 'step', step: s, steps, loss: loss[s - 1]! });
      }
    }
    if (steps > 0) {
      phases.push(await rec.takeTimes());
      loss.push(await trainer.takeLoss());
      opts.onProgress?.({ stage: 'step', step: steps, steps, loss: loss[steps - 1]! });
    }
    const window = ledger.timeline(windowStart);
    if (window.length !== ledger.eventCount - windowStart) throw new Error(`the ledger kept ${window.length} of the last step's ${ledger.eventCount - windowStart} events: raise its historyLimit`);
    // Before dispose: what the last step left alive (weights, optimizer states…), staging aside.
    const aliveAtEnd = ledger
      .entries()
      .filter((e) => e.destroyedAt === null && e.category !== 'staging')
      .map((e) => ({ name: e.name, category: LEDGER_TO_PLAN_CATEGORY[e.category], bytes: e.requested }));
    const measured = measureWindow(window);
    const skippedSteps = await trainer.readSkippedSteps();
    const steady = (xs: number[]) => median(xs.length > 1 ? xs.slice(1) : xs);
    const phasesMs = Object.fromEntries(PHASE_NAMES.map((p) => [p, steady(phases.map((x) => x[p]))])) as Record<PhaseName, number>;
    const physicalPeakBytes = ledger.physicalPeakBytes;
    const stagingBytes = ledger.maxByCategory().staging;
    const source = rec.source;
    rec.destroy();
    rec = null;
    ledger.dispose();
    opts.onProgress?.({ stage: 'done', step: steps, steps, loss: loss[loss.length - 1] });
    return {
      adapter: summary,
      estimate: plan,
      actual: { ...measured, physicalPeakBytes, stagingBytes, liveAfterDisposeBytes: ledger.liveBytes },
      timing: { warmupMs, warmupPipelines, stepMs: steady(stepMs), stepsMs: stepMs, recordMs: steady(recordMs), phasesMs, source },
      loss,
      skippedSteps,
      timeline: window.map((p) => ({
        op: p.op,
        label: p.label,
        event: p.event,
        name: p.name,
        category: p.category === 'staging' ? null : LEDGER_TO_PLAN_CATEGORY[p.category],
        tensorBytes: p.requested,
        bytes: planBytes(p),
      })),
      aliveAtEnd,
      work,
    };
  } catch (err) {
    throw await lostInstead(device, err, lost);
  } finally {
    rec?.destroy();
    ledger.dispose();
  }
}

/** What compareLaunches measures for one launch: per timed step, CPU and wall ms; the step's work; the last loss. */
export interface LaunchTimes {
  launch: OptimizerLaunch;
  cpuMs: number[];
  wallMs: number[];
  work: StepWork;
  loss: number;
}

/**
 * The same training step under two optimizer launches, alternated step by step (A, B, A, B…)
 * on one device in one process, so drift in the machine's load reaches both alike. Each side
 * has its own trainer, pooled ledger and recorder; `warmup` steps each first (pipelines, bind
 * groups, the pool), then `iters` timed steps each: record, submit, wait, and read the loss
 * back. `cpuMs` is the process's CPU clock (Node: process.cpuUsage), which on a CPU adapter
 * includes the device's own work. Everything is freed on return or throw.
 */
export async function compareLaunches(
  opened: OpenedDevice,
  cfg: RunConfig | GptRunConfig,
  opts: { launches: readonly [OptimizerLaunch, OptimizerLaunch]; iters: number; warmup: number; cpuMs: () => number },
): Promise<[LaunchTimes, LaunchTimes]> {
  const { device } = opened;
  const make = (ledger: Ledger) =>
    cfg.model === 'gpt' ? GptTrainer.create(device, ledger, cfg, cfg.lr ?? DEFAULT_GPT_LR[cfg.optimizer]) : MlpTrainer.create(device, ledger, cfg as RunConfig);
  const sides: { launch: OptimizerLaunch; ledger: Ledger; trainer?: AnyTrainer; rec?: StepRecorder; out: LaunchTimes }[] = opts.launches.map((launch) => ({
    launch,
    ledger: new Ledger(device, { historyLimit: 192 * (cfg.layers + 2), pool: true }),
    out: { launch, cpuMs: [], wallMs: [], work: { flops: { forward: 0, backward: 0, recompute: 0, optimizer: 0 }, totalFlops: 0, matmulFlops: 0, dispatches: 0, computePasses: 0, clears: 0, readbacks: 0, submits: 0 }, loss: NaN },
  }));
  try {
    for (const s of sides) {
      setOptimizerLaunch(device, s.launch);
      s.trainer = await make(s.ledger);
      s.rec = await StepRecorder.create(device, s.ledger, 4 + 2 * cfg.layers, false);
      await s.trainer.warmUp();
    }
    setOptimizerLaunch(device, 'fused');
    const step = async (s: (typeof sides)[number], timed: boolean) => {
      const c0 = opts.cpuMs();
      const t0 = performance.now();
      await s.trainer!.step(s.rec!);
      await s.rec!.finish();
      s.out.loss = await s.trainer!.readLoss();
      const wall = performance.now() - t0;
      const cpu = opts.cpuMs() - c0;
      s.out.work = s.rec!.takeWork();
      if (timed) {
        s.out.cpuMs.push(cpu);
        s.out.wallMs.push(wall);
      }
    };
    for (let i = 0; i < opts.warmup + opts.iters; i++) for (const s of sides) await step(s, i >= opts.warmup);
    return [sides[0]!.out, sides[1]!.out];
  } finally {
    for (const s of sides) {
      s.rec?.destroy();
      s.ledger.dispose();
    }
  }
}

/** What a TrainingSteps measured over its steps since the last restart(). */
export interface StepsMeasure {
  /** Bytes of live tensors at the peak of the last step (plan categories, staging aside), as a run reports. */
  peakBytes: number;
  /** Bytes the ledger held from the GPU at its peak since it opened (alignment and the pool included). */
  physicalPeakBytes: number;
  /** Median CPU ms recording a step's commands, over the steps since restart(). */
  recordMs: number;
  /** What the last step launched. */
  work: StepWork;
  /** The last step's loss. */
  loss: number;
}

/**
 * A training step to be driven one step at a time by a caller that times it (the benchmark,
 * alternating with another framework): set-up here, `step()` per step, `dispose()` after.
 * A step records forward, backward and the optimizer, submits, waits for the GPU and reads the
 * loss back, so when step() resolves all of its GPU work is done and its loss is on the CPU.
 * Memory is the ledger's, as a run measures it. Everything is freed by dispose(), also after a throw.
 */
export interface TrainingSteps {
  step(): Promise<number>;
  /** Starts the record-time median over (after warm-up). */
  restart(): void;
  measure(): StepsMeasure;
  dispose(): void;
}

export async function openTrainingSteps(opened: OpenedDevice, cfg: RunConfig | GptRunConfig, opts: { optimizerLaunch?: OptimizerLaunch } = {}): Promise<TrainingSteps> {
  const { device } = opened;
  // Also refuses what the engine cannot run, before anything is allocated.
  estimate(cfg.model === 'gpt' ? planConfigOfGpt(cfg) : planConfigOf(cfg as RunConfig));
  // As runLoop: history for a whole step and the event before it; pooled.
  const ledger = new Ledger(device, { historyLimit: 192 * (cfg.layers + 2), pool: true });
  let rec: StepRecorder | null = null;
  try {
    setOptimizerLaunch(device, opts.optimizerLaunch ?? 'fused');
    let trainer: AnyTrainer;
    try {
      trainer = cfg.model === 'gpt' ? await GptTrainer.create(device, ledger, cfg, cfg.lr ?? DEFAULT_GPT_LR[cfg.optimizer]) : await MlpTrainer.create(device, ledger, cfg as RunConfig);
    } finally {
      setOptimizerLaunch(device, 'fused');
    }
    // As a run records a step: timestamp markers where the adapter has them, a submit per phase,
    // its pipelines created before the first step. Per-phase times are not reported here.
    const recorder = await StepRecorder.create(device, ledger, 4 + 2 * cfg.layers);
    rec = recorder;
    await trainer.warmUp();
    let recordMs: number[] = [];
    let windowStart = 0;
    let work = recorder.takeWork();
    let loss = NaN;
    return {
      async step() {
        windowStart = Math.max(0, ledger.eventCount - 1);
        const t0 = performance.now();
        await trainer.step(recorder);
        recordMs.push(performance.now() - t0);
        await recorder.finish();
        work = recorder.takeWork();
        loss = await trainer.readLoss();
        return loss;
      },
      restart() {
        recordMs = [];
      },
      measure() {
        const window = ledger.timeline(windowStart);
        if (window.length !== ledger.eventCount - windowStart) throw new Error(`the ledger kept ${window.length} of the last step's ${ledger.eventCount - windowStart} events: raise its historyLimit`);
        return { peakBytes: measureWindow(window).peakBytes, physicalPeakBytes: ledger.physicalPeakBytes, recordMs: median(recordMs), work, loss };
      },
      dispose() {
        recorder.destroy();
        ledger.dispose();
      },
    };
  } catch (err) {
    rec?.destroy();
    ledger.dispose();
    throw err;
  }
}
