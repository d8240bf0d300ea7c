/**
 * Adapter and device bootstrap for a Worker (navigator.gpu) and for Node (the GPU object of
 * the `webgpu` package, passed in). The device gets its `lost` and `uncapturederror`
 * handlers before anything else can use it, so no error goes unseen.
 * https://webgpu.github.io/webgpu-samples/ (util.ts: quitIfWebGPUNotAvailable)
 */
import { markPatient } from './gpu-wait.ts';
import { FALLBACK_MATMUL_TILES, fallbackMatmulTraits, setMatmulTiles, setMatmulTraits } from './kernels/matmul.ts';
import {
  ENGINE_ERRORS,
  NO_WEBGPU_MESSAGE,
  type AdapterSummary,
  type DeviceErrorKind,
  type DeviceErrorReport,
  type EngineErrorName,
} from '../protocol/engine-api.ts';

export type LimitName = Exclude<keyof GPUSupportedLimits, '__brand'>;

/**
 * Limits a memory lab wants at the adapter's maximum rather than the WebGPU defaults (the
 * default maxBufferSize is 256 MiB and maxStorageBufferBindingSize 128 MiB, far below what
 * a real GPU allows, and workgroup storage bounds the matmul tile).
 */
export const COMPUTE_LIMITS: readonly LimitName[] = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
];

/** Enabled when present: native f16 arithmetic, per-pass timings for the profiler, subgroup operations for row reductions (kernels/rowreduce.ts). */
export const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups'];

export interface OpenDeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Features to enable when the adapter has them; missing ones are skipped. */
  optionalFeatures?: readonly GPUFeatureName[];
  /** Limits to request at the adapter's value; [] keeps the WebGPU defaults. */
  raiseLimits?: readonly LimitName[];
  /** Receives uncaptured errors and unexpected loss; defaults to console.error. */
  onError?: (report: DeviceErrorReport) => void;
  label?: string;
}

export interface OpenedDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

function engineError(name: EngineErrorName, message: string, cause?: unknown): Error {
  const e = new Error(message, cause === undefined ? undefined : { cause });
  e.name = name;
  return e;
}

/** The GPU of this context: `navigator.gpu` in a browser or worker, undefined in plain Node. */
export function contextGpu(): GPU | undefined {
  return typeof navigator === 'undefined' ? undefined : (navigator as { gpu?: GPU }).gpu;
}

/**
 * Opens an adapter and a device with the requested limits and available features.
 * Throws Error named NoWebGPU, NoAdapter or NoDevice with a sentence saying what to do.
 */
export async function openDevice(gpu: GPU | null | undefined, opts: OpenDeviceOptions = {}): Promise<OpenedDevice> {
  if (!gpu) {
    throw engineError(
      ENGINE_ERRORS.NoWebGPU,
      isNode
        ? "WebGPU is not available in Node: pass the GPU object of the `webgpu` package (import { create } from 'webgpu'; openDevice(create([])))"
        : NO_WEBGPU_MESSAGE,
    );
  }
  let cause: unknown;
  const adapter = await gpu
    .requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined)
    .catch((e: unknown) => {
      cause = e;
      return null;
    });
  if (!adapter) {
    throw engineError(
      ENGINE_ERRORS.NoAdapter,
      isNode
        ? 'No WebGPU adapter was found: install the Vulkan driver of your GPU, or use SwiftShader (CPU) with ' +
            'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium'
        : 'No WebGPU adapter was found: turn on hardware acceleration (see chrome://gpu), or start Chromium with ' +
            '--enable-unsafe-webgpu to use its SwiftShader (CPU) adapter',
      cause,
    );
  }

  const summary = describeAdapter(adapter);
  const requiredFeatures = (opts.optionalFeatures ?? OPTIONAL_FEATURES).filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of opts.raiseLimits ?? COMPUTE_LIMITS) {
    const v = summary.limits[name];
    if (v !== undefined) requiredLimits[name] = v;
  }

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: opts.label ?? 'vramlab', requiredFeatures, requiredLimits });
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw engineError(
      ENGINE_ERRORS.NoDevice,
      `The WebGPU adapter could not open a device (${detail}): close other pages using the GPU and reload`,
      e,
    );
  }
  installErrorHandlers(device, opts.onError ?? ((r) => console.error(`${r.message}\n${r.detail}`)));
  if (summary.isFallbackAdapter) {
    setMatmulTiles(device, FALLBACK_MATMUL_TILES);
    // Node before 21 has no navigator: 4 cores until openNodeDevice says how many there are.
    setMatmulTraits(device, fallbackMatmulTraits(globalThis.navigator?.hardwareConcurrency ?? 4));
  }
  if (isNode && process.env.VRAMLAB_GPU_WAIT !== 'spin') markPatient(device);
  return { adapter, device, summary };
}

/** Turns every uncaptured error and any loss other than our own destroy() into a report. */
function installErrorHandlers(device: GPUDevice, onError: (report: DeviceErrorReport) => void): void {
  device.addEventListener('uncapturederror', (ev) => {
    const error = (ev as GPUUncapturedErrorEvent).error;
    const kind = errorKind(error);
    onError({ kind, message: ERROR_SENTENCES[kind], detail: error.message, at: performance.now() });
  });
  void device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    onError({ kind: 'lost', message: ERROR_SENTENCES.lost, detail: info.message, reason: info.reason, at: performance.now() });
  });
}

const ERROR_SENTENCES: Record<DeviceErrorKind, string> = {
  'out-of-memory': 'The GPU ran out of memory: use a smaller batch, sequence length or model, or turn on checkpointing',
  validation: 'The GPU rejected a command, which is a bug in vramlab: please report it with the detail below',
  internal: 'The GPU driver failed on a command (often a shader too large for it): try smaller shapes or another browser',
  lost: 'The GPU device was lost (a driver reset, or the GPU was taken away): reload the page to start a new device',
};

function errorKind(error: GPUError): Exclude<DeviceErrorKind, 'lost'> {
  // Class checks guarded because a context may lack the globals (Node before Object.assign(globalThis, globals)).
  if (typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError) return 'out-of-memory';
  if (typeof GPUValidationError !== 'undefined' && error instanceof GPUValidationError) return 'validation';
  if (typeof GPUInternalError !== 'undefined' && error instanceof GPUInternalError) return 'internal';
  const name = error.constructor.name;
  if (name === 'GPUOutOfMemoryError') return 'out-of-memory';
  if (name === 'GPUValidationError') return 'validation';
  return 'internal';
}

/** The adapter as plain, structured-clone-safe data. */
export function describeAdapter(adapter: GPUAdapter): AdapterSummary {
  // `adapter.info` arrived in Chrome 127; `isFallbackAdapter` moved onto it from the adapter.
  const info = adapter.info as Partial<GPUAdapterInfo> | undefined;
  const legacyFallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const limits: Record<string, number> = {};
  // WebIDL attributes are enumerable getters on the prototype, so for…in sees every limit.
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    features: [...adapter.features].sort(),
    limits,
    isFallbackAdapter: info?.isFallbackAdapter ?? legacyFallback ?? false,
  };
}
