/**
 * Counting the work a step records. Every kernel module records through recordPass
 * (kernels/storage.ts), which reports its FLOPs (estimate/vramlab-work.ts KERNEL_WORK) and
 * dispatches here, and the ledger reports each clearBuffer it records; both are credited to
 * the counter attached to the encoder they record into, in the counter's current phase.
 * The step recorder (profiler.ts) attaches its counter to every encoder it opens and sets the
 * phase; commands recorded into any other encoder (set-up, tests, benchmarks) are not counted.
 */
import type { KernelWork } from '../estimate/vramlab-work.ts';
import { PHASE_NAMES, type PhaseName, type StepWork } from '../protocol/run.ts';

export class WorkCounter {
  phase: PhaseName = 'forward';
  private flops: Record<PhaseName, number> = { forward: 0, backward: 0, recompute: 0, optimizer: 0 };
  private matmulFlops = 0;
  private dispatches = 0;
  private passes = 0;
  private clears = 0;
  private readbacks = 0;
  private submits = 0;

  /** Credits to this counter what is recorded into `encoder` from now on. */
  attach(encoder: GPUCommandEncoder): void {
    counters.set(encoder, this);
  }

  pass(work: KernelWork, dispatches: number, newPass: boolean): void {
    this.flops[this.phase] += work.flops;
    this.matmulFlops += work.matmulFlops;
    this.dispatches += dispatches;
    if (newPass) this.passes += 1;
  }

  clear(): void {
    this.clears += 1;
  }

  readback(): void {
    this.readbacks += 1;
  }

  /** A command buffer of the step's submitted to the queue. */
  submit(): void {
    this.submits += 1;
  }

  /** What was counted since the last take, and a fresh start. */
  take(): StepWork {
    const out: StepWork = {
      flops: this.flops,
      totalFlops: PHASE_NAMES.reduce((a, p) => a + this.flops[p], 0),
      matmulFlops: this.matmulFlops,
      dispatches: this.dispatches,
      computePasses: this.passes,
      clears: this.clears,
      readbacks: this.readbacks,
      submits: this.submits,
    };
    this.flops = { forward: 0, backward: 0, recompute: 0, optimizer: 0 };
    this.matmulFlops = 0;
    this.dispatches = 0;
    this.passes = 0;
    this.clears = 0;
    this.readbacks = 0;
    this.submits = 0;
    return out;
  }
}

// Weak: a finished encoder and its entry go together.
const counters = new WeakMap<GPUCommandEncoder, WorkCounter>();

/** A kernel call of `dispatches` recorded into encoder, costing `work`; `newPass`: it began a compute pass. */
export function countPass(encoder: GPUCommandEncoder, work: KernelWork, dispatches: number, newPass = true): void {
  counters.get(encoder)?.pass(work, dispatches, newPass);
}

/**
 * Compute passes left open on a counted encoder (a step's): consecutive kernel calls record
 * their dispatches into one pass, as WebGPU orders dispatches inside a pass and makes each
 * one's writes visible to the next (every dispatch is its own usage scope). Whoever records a
 * command other than a dispatch into such an encoder (a copy, a clear, a timestamp pass,
 * finish) ends the open pass first with endOpenPass().
 */
const openPasses = new WeakMap<GPUCommandEncoder, GPUComputePassEncoder>();

/** The compute pass a kernel call on encoder records into: the open one, or a new one (left open on a counted encoder). */
export function passFor(encoder: GPUCommandEncoder, label: string): { pass: GPUComputePassEncoder; isNew: boolean; keepOpen: boolean } {
  const open = openPasses.get(encoder);
  if (open) return { pass: open, isNew: false, keepOpen: true };
  const keepOpen = counters.has(encoder);
  const pass = encoder.beginComputePass({ label: keepOpen ? 'StepRecorder.pass' : label });
  if (keepOpen) openPasses.set(encoder, pass);
  return { pass, isNew: true, keepOpen };
}

/** Ends the compute pass left open on encoder, if any: before any command other than a dispatch. */
export function endOpenPass(encoder: GPUCommandEncoder): void {
  const open = openPasses.get(encoder);
  if (!open) return;
  open.end();
  openPasses.delete(encoder);
}

/** A copy into a mappable buffer recorded into encoder, to read back. */
export function countReadback(encoder: GPUCommandEncoder): void {
  counters.get(encoder)?.readback();
}

/** A clearBuffer recorded into encoder. */
export function countClear(encoder: GPUCommandEncoder): void {
  counters.get(encoder)?.clear();
}
