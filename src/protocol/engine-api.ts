/**
 * What the engine worker exposes through Comlink, and the plain-data types that cross the
 * boundary. Everything here must survive structured clone: no class instances, no GPU
 * objects. Custom Error classes do not survive the trip either, so the kind of a failure
 * travels in `Error.name` (one of ENGINE_ERRORS) and the sentence for the user in `message`.
 */
import type { CnnRunConfig } from './cnn.ts';
import type { GptRunConfig, LlamaRunConfig, RunConfig, RunProgress, RunReport } from './run.ts';

/**
 * What run() trains: the mlp (model 'mlp'), a GPT-style (model 'gpt') or a Llama-style decoder
 * (model 'llama'), or a small CNN (model 'cnn-mnist' or 'cnn-cifar'); `model` tells them apart.
 */
export type EngineRunConfig = RunConfig | GptRunConfig | LlamaRunConfig | CnnRunConfig;

/**
 * What run() returns: a RunReport whose config is the one it ran. Written as a
 * mapped type, not an intersection, so it is the plain object type the report schema infers.
 */
export type EngineRunReport = { [K in keyof RunReport]: K extends 'config' ? EngineRunConfig : RunReport[K] };

/** Every run the engine trains (the page and the CLI run the same models). */
export type AnyEngineRunConfig = EngineRunConfig;
export type AnyEngineRunReport = EngineRunReport;

/** `Error.name` values the engine throws; the UI switches on these, never on classes. */
export const ENGINE_ERRORS = {
  /** `navigator.gpu` (or the GPU object handed to the engine in Node) is missing. */
  NoWebGPU: 'NoWebGPU',
  /** WebGPU exists but `requestAdapter()` returned null. */
  NoAdapter: 'NoAdapter',
  /** The adapter refused `requestDevice()` (limits or features it cannot give). */
  NoDevice: 'NoDevice',
  /** run() while another run is in progress: one run at a time per device. */
  Busy: 'Busy',
  /** The device was lost during a run (a driver reset, or destroyed): the run kept nothing. */
  DeviceLost: 'DeviceLost',
  /** A kernel's pipeline did not compile (createComputePipelineAsync rejected): a bug of the engine or the driver. */
  PipelineFailed: 'PipelineFailed',
} as const;
export type EngineErrorName = (typeof ENGINE_ERRORS)[keyof typeof ENGINE_ERRORS];

/** The longest run id run() and cancel() take. */
export const RUN_ID_MAX_CHARS = 64;

/** The sentence shown when a browser has no WebGPU. */
export const NO_WEBGPU_MESSAGE =
  'WebGPU is not available in this browser: use Chrome/Edge 113+ or start Chromium with --enable-unsafe-webgpu';

/** A GPUAdapter as plain data: what the adapter card shows and what reports record. */
export interface AdapterSummary {
  /** GPUAdapterInfo fields; each may be '' when the browser hides it. */
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Sorted feature names, e.g. 'shader-f16', 'timestamp-query'. */
  features: string[];
  /** Every numeric GPUSupportedLimits member of the adapter (sizes in bytes). */
  limits: Record<string, number>;
  /** A software or otherwise limited adapter (SwiftShader on a machine with no GPU). */
  isFallbackAdapter: boolean;
}

/** What measureThroughput() returns: gflops = flops / ms / 10⁶. */
export interface ThroughputReport {
  gflops: number;
  /** Wall time of the timed part, ms. */
  ms: number;
  /** FLOPs computed in that time. */
  flops: number;
}

export const DEVICE_ERROR_KINDS = ['validation', 'out-of-memory', 'internal', 'lost'] as const;
export type DeviceErrorKind = (typeof DEVICE_ERROR_KINDS)[number];

/** An error the device raised outside any error scope, or its loss. */
export interface DeviceErrorReport {
  kind: DeviceErrorKind;
  /** A sentence for the user: what happened and what to change. */
  message: string;
  /** The driver's own text, for bug reports. */
  detail: string;
  /** For 'lost': GPUDeviceLostReason ('unknown' or 'destroyed'). */
  reason?: string;
  /** performance.now() of the context that saw it, in ms. */
  at: number;
}

export interface EngineApi {
  /** Opens (once) the adapter and device and describes the adapter. */
  probe(): Promise<AdapterSummary>;
  /**
   * Registers a listener for device errors and loss. Over Comlink the listener must be
   * wrapped with `Comlink.proxy`; a later call replaces the listener, null removes it.
   */
  onDeviceError(listener: ((report: DeviceErrorReport) => void) | null): Promise<void>;
  /**
   * Trains the configured model (an mlp, GPT, Llama or CNN run config, told apart by `model`)
   * on the device and reports the measurement beside the estimate. `config` is validated
   * here with the schema its `model` names (a ConfigError names the field); over Comlink
   * `onProgress` must be wrapped with `Comlink.proxy`. Fails with Error named Busy while
   * another run is in progress, Cancelled after cancel(), BufferTooLarge or OutOfMemory when
   * the device cannot hold a tensor; every buffer is released whichever way it ends.
   * `runId` (at most RUN_ID_MAX_CHARS, unique per run) names the run for cancel(); a run whose
   * id was cancelled before it arrived fails with Cancelled at once, allocating nothing.
   */
  run(config: EngineRunConfig, onProgress?: ((p: RunProgress) => void) | null, runId?: string): Promise<EngineRunReport>;
  /**
   * Stops a run between steps (it then fails with Cancelled). With `runId`, that run, also one
   * that has not arrived yet: a cancel sent right after run() can overtake it (the page checks
   * the worker is alive before it sends the run), and is then kept until the run arrives.
   * Without, the run in progress; nothing when idle.
   */
  cancel(runId?: string): Promise<void>;
  /**
   * The device's FLOP/s on the engine's matmuls (an mlp block's forward, the kernels a step
   * uses), timed for about 0.3 s after a warm-up; with RunReport.work.totalFlops it says how
   * long a step will take. Fails with Busy while a run is in progress; allocates nothing that
   * outlives it.
   */
  measureThroughput(): Promise<ThroughputReport>;
  /**
   * Destroys the worker's current device, as a driver reset would, to demonstrate and test
   * recovery: a run in progress fails, the listener gets a 'lost' report, and the next
   * probe() opens a new device. Nothing when no device is open.
   */
  loseDevice(): Promise<void>;
}
