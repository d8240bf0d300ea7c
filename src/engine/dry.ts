/**
 * A step recorded for its pipelines only (Trainer.warmUp): the trainer runs its step as always,
 * but its tensors are DryBuffers the ledger hands out without creating or recording anything
 * (Ledger.dry), its commands go to a DryEncoder that keeps none, and each kernel's pipeline is
 * looked up in collect mode (kernels/storage.ts collectPipelines), which notes the missing ones
 * instead of compiling them. Nothing reaches the GPU; the pipelines are then created together
 * with createComputePipelineAsync, so the first timed step compiles nothing.
 */
import type { StepRecording } from './profiler.ts';
import type { PhaseName } from '../protocol/run.ts';

/** Stands where a tensor's GPUBuffer would: its label, size and usage, no memory. */
export class DryBuffer implements GPUBuffer {
  readonly __brand = 'GPUBuffer' as const;
  label: string;
  readonly size: number;
  readonly usage: GPUFlagsConstant;

  constructor(label: string, size: number, usage: GPUFlagsConstant) {
    this.label = label;
    this.size = size;
    this.usage = usage;
  }

  get mapState(): GPUBufferMapState {
    return 'unmapped';
  }

  mapAsync(): Promise<undefined> {
    return Promise.reject(new TypeError(`DryBuffer '${this.label}' has no memory to map: it exists only while a step is recorded for its pipelines`));
  }

  getMappedRange(): ArrayBuffer {
    throw new TypeError(`DryBuffer '${this.label}' has no memory to map: it exists only while a step is recorded for its pipelines`);
  }

  unmap(): undefined {
    return undefined;
  }

  destroy(): undefined {
    return undefined;
  }
}

/** The commands a step records outside recordPass (copies, clears), kept nowhere. */
export class DryEncoder {
  readonly label = 'DryEncoder';

  clearBuffer(): undefined {
    return undefined;
  }

  copyBufferToBuffer(): undefined {
    return undefined;
  }

  resolveQuerySet(): undefined {
    return undefined;
  }
}

/** Whether `encoder` is a DryEncoder (recordPass records nothing into one). */
export function isDryEncoder(encoder: GPUCommandEncoder): boolean {
  return (encoder as unknown) instanceof DryEncoder;
}

/** A step recorder that records into a DryEncoder and submits nothing (Trainer.warmUp). */
export class DryRecorder implements StepRecording {
  readonly encoder = new DryEncoder() as unknown as GPUCommandEncoder;

  phase<T>(_phase: PhaseName, body: () => Promise<T> | T): Promise<T> {
    return Promise.resolve(body());
  }

  submit(): Promise<void> {
    return Promise.resolve();
  }
}
