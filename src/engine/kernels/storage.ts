/**
 * Storage formats of tensors on the GPU, and what every kernel module shares: the WGSL
 * prelude that loads and stores them (shaders/storage.wgsl), its CPU twin for uploads and
 * tests, the per-device pipeline cache and the dispatch split.
 *
 * Layout (no `shader-f16` needed: values are computed in f32):
 *   f32  — one f32 per element, 4 B each.
 *   f16  — packed two per u32: element i in word i >> 1, even i in bits 0..15, odd i in
 *          bits 16..31; n values take ceil(n / 2) × 4 B. The last word's high half is 0 when
 *          n is odd.
 *   bf16 — packed like f16; each half is the high 16 bits of the f32 pattern.
 * Rounding, on the GPU and here alike: round to nearest, ties to even; overflow gives ±inf
 * (f16 above 65504 after rounding; bf16 above 3.39e38); NaN stays a quiet NaN
 * (f16 0x7e00, bf16 0x7fc0, with its sign). The same as PyTorch's .half() and .bfloat16().
 */
import storageWgsl from '../../../shaders/storage.wgsl?raw';
import { bindingResource } from '../arena.ts';
import { isDryEncoder } from '../dry.ts';
import { ENGINE_ERRORS } from '../../protocol/engine-api.ts';
import { countPass, passFor } from '../work.ts';
import type { KernelWork } from '../../estimate/vramlab-work.ts';

export const STORAGES = ['f32', 'f16', 'bf16'] as const;
export type Storage = (typeof STORAGES)[number];
export type HalfStorage = Exclude<Storage, 'f32'>;

/** The value of a kernel's `*_KIND` override constant for each storage (STORAGE_* in storage.wgsl). */
export const STORAGE_CODE = { f32: 0, f16: 1, bf16: 2 } as const satisfies Record<Storage, number>;

/** Bytes of n values: f32 4n; packed ceil(n / 2) × 4 (whole u32 words). */
export function storageBytes(n: number, s: Storage): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`storageBytes: n must be a non-negative integer, got ${n}`);
  return s === 'f32' ? 4 * n : Math.ceil(n / 2) * 4;
}

// ---- CPU twins of shaders/storage.wgsl -------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0]!;
}

function bitsF32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0]!;
}

/** f32 → f16 bits, round to nearest-even, overflow → ±inf. Mirrors f32ToF16Bits in storage.wgsl. */
export function f32ToF16Bits(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 255) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (h & 1) === 1)) h += 1;
    return sign | h;
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1;
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) {
    const v = mantissa * 2 ** -24;
    return sign !== 0 ? -v : v;
  }
  if (exponent === 31) return bitsF32(sign | 0x7f800000 | (mantissa << 13));
  return bitsF32(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/** f32 → bf16 bits, round to nearest-even; NaN → quiet NaN. Mirrors f32ToBf16Bits in storage.wgsl. */
export function f32ToBf16Bits(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  return bitsF32((h & 0xffff) << 16);
}

function encodeHalf(x: number, s: HalfStorage): number {
  return s === 'f16' ? f32ToF16Bits(x) : f32ToBf16Bits(x);
}

function decodeHalf(h: number, s: HalfStorage): number {
  return s === 'f16' ? f16BitsToF32(h) : bf16BitsToF32(h);
}

/** Packs values two per u32 word (ceil(n / 2) words; an odd n leaves the last high half 0). */
export function packHalf(values: Float32Array, s: HalfStorage): Uint32Array {
  const words = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    words[i >> 1]! |= encodeHalf(values[i]!, s) << (i & 1 ? 16 : 0);
  }
  return words;
}

/** The first n values of packed words. */
export function unpackHalf(words: Uint32Array, n: number, s: HalfStorage): Float32Array {
  if (words.length * 2 < n) throw new RangeError(`unpackHalf: ${words.length} words hold fewer than ${n} values`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = decodeHalf((words[i >> 1]! >>> (i & 1 ? 16 : 0)) & 0xffff, s);
  return out;
}

/** Values as the words a buffer of storage s holds (for queue.writeBuffer). */
export function encodeStorage(values: Float32Array, s: Storage): Uint32Array {
  return s === 'f32' ? new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) : packHalf(values, s);
}

/** The first n values of a buffer of storage s, read back as words. */
export function decodeStorage(words: Uint32Array, n: number, s: Storage): Float32Array {
  return s === 'f32' ? new Float32Array(words.buffer.slice(words.byteOffset, words.byteOffset + 4 * n)) : unpackHalf(words, n, s);
}

/** Values rounded to storage s and back, as a kernel reading them sees them. */
export function roundToStorage(values: Float32Array, s: Storage): Float32Array {
  return s === 'f32' ? Float32Array.from(values) : unpackHalf(packHalf(values, s), values.length, s);
}

// ---- What every kernel module shares -----------------------------------------------------

/**
 * A kernel family's WGSL behind the storage prelude: the one include of the engine, so the
 * load/store functions are written once (shaders/storage.wgsl) and every format is an
 * override constant rather than generated text.
 */
export function withStorageWgsl(kernelWgsl: string): string {
  return `${storageWgsl}\n${kernelWgsl}`;
}

/** What a kernel module caches per device: its shader module and pipelines by key. */
export interface KernelCache {
  module: GPUShaderModule;
  pipelines: Map<string, GPUComputePipeline>;
}

export interface PipelineSpec {
  /** 'Matmul', 'Loss', …: the label prefix. */
  family: string;
  /** The whole WGSL of the family (prelude included). */
  code: string;
  entryPoint: string;
  /** Every override constant; all of them are in the cache key and the label. */
  constants: Record<string, number>;
}

/** Pipelines a warm-up found missing, per kernel cache and key, while it collects on a device. */
type Missing = Map<KernelCache, Map<string, PipelineSpec>>;
const collecting = new WeakMap<GPUDevice, Missing>();
// Pipelines created per device, by path: a test asserts a warmed step creates none on its own.
const created = new WeakMap<GPUDevice, { sync: number; async: number }>();

/** Stands for a missing pipeline while a warm-up collects; recordPass records nothing with it (dry.ts). */
const PENDING_PIPELINE = { __brand: 'GPUComputePipeline', label: 'pending' } as unknown as GPUComputePipeline;

/** How many pipelines were created on device so far: on first use (sync) and by warm-ups (async). */
export function pipelinesCreated(device: GPUDevice): { sync: number; async: number } {
  return { ...(created.get(device) ?? { sync: 0, async: 0 }) };
}

function countCreated(device: GPUDevice, path: 'sync' | 'async'): void {
  const c = created.get(device) ?? { sync: 0, async: 0 };
  c[path] += 1;
  created.set(device, c);
}

function cacheFor(caches: WeakMap<GPUDevice, KernelCache>, device: GPUDevice, spec: PipelineSpec): KernelCache {
  let cache = caches.get(device);
  if (!cache) {
    cache = { module: device.createShaderModule({ label: `${spec.family}.module`, code: spec.code }), pipelines: new Map() };
    caches.set(device, cache);
  }
  return cache;
}

function checkConstants(spec: PipelineSpec): void {
  for (const name in spec.constants) {
    const v = spec.constants[name]!;
    if (!Number.isFinite(v)) throw new RangeError(`${spec.family}: override ${name} must be a finite number, got ${v}`);
  }
}

function descriptor(cache: KernelCache, spec: PipelineSpec, key: string): GPUComputePipelineDescriptor {
  return { label: `${spec.family}.pipeline[${key}]`, layout: 'auto', compute: { module: cache.module, entryPoint: spec.entryPoint, constants: spec.constants } };
}

/**
 * The pipeline for spec on device, created on first use with an 'auto' layout. The cache is
 * the calling module's own WeakMap, so a destroyed device and its pipelines can be collected.
 * While collectPipelines runs on the device, a missing pipeline is noted instead of created.
 */
export function cachedPipeline(caches: WeakMap<GPUDevice, KernelCache>, device: GPUDevice, spec: PipelineSpec): GPUComputePipeline {
  const cache = cacheFor(caches, device, spec);
  // Built on every dispatch, so no sort and no arrays: the constants' insertion order is fixed
  // per call site (another order for the same values only makes a second, equal pipeline).
  let key = spec.entryPoint;
  for (const name in spec.constants) key += `,${name}=${spec.constants[name]}`;
  let pipeline = cache.pipelines.get(key);
  if (!pipeline) {
    checkConstants(spec);
    const missing = collecting.get(device);
    if (missing) {
      let specs = missing.get(cache);
      if (!specs) missing.set(cache, (specs = new Map()));
      specs.set(key, spec);
      return PENDING_PIPELINE;
    }
    pipeline = device.createComputePipeline(descriptor(cache, spec, key));
    countCreated(device, 'sync');
    cache.pipelines.set(key, pipeline);
  }
  return pipeline;
}

/**
 * How a warm-up creates the pipelines it collected. 'async': createComputePipelineAsync, all
 * requested at once and awaited together; a browser's worker stays free while the GPU process
 * compiles. 'sync': createComputePipeline one after the other, for Dawn in Node (the `webgpu`
 * package), which compiles async pipelines one at a time too, and while they are pending
 * polls on the main thread: on SwiftShader (2 cores, busy) the same pipelines took 1.6–3× the
 * wall time async (README, Warm-up).
 */
export type PipelineCreation = 'async' | 'sync';

/**
 * Runs `record` (a step recorded into a DryEncoder, dry.ts) noting every pipeline it asks for
 * that is not cached yet, then creates them all (`how`) and caches them: the step recorded
 * next finds every pipeline. Returns how many it created. A pipeline that fails to compile
 * asynchronously rejects with an Error named PipelineFailed that names the kernel, its
 * constants and the compiler's message.
 */
export async function collectPipelines(device: GPUDevice, record: () => Promise<void>, how: PipelineCreation = 'async'): Promise<number> {
  if (collecting.has(device)) throw new Error('collectPipelines: a warm-up is already collecting on this device');
  const missing: Missing = new Map();
  collecting.set(device, missing);
  try {
    await record();
  } finally {
    collecting.delete(device);
  }
  const jobs: Promise<void>[] = [];
  for (const [cache, specs] of missing) {
    for (const [key, spec] of specs) {
      if (how === 'sync') {
        // Scoped, so a pipeline that does not compile fails here as the async path does.
        device.pushErrorScope('internal');
        device.pushErrorScope('validation');
        const pipeline = device.createComputePipeline(descriptor(cache, spec, key));
        const errors = Promise.all([device.popErrorScope(), device.popErrorScope()]);
        jobs.push(
          errors.then(([validation, internal]) => {
            const e = validation ?? internal;
            if (e) throw pipelineFailed(spec, key, { reason: validation ? 'validation' : 'internal', message: e.message });
            countCreated(device, 'sync');
            cache.pipelines.set(key, pipeline);
          }),
        );
        continue;
      }
      jobs.push(
        device.createComputePipelineAsync(descriptor(cache, spec, key)).then(
          (pipeline) => {
            countCreated(device, 'async');
            cache.pipelines.set(key, pipeline);
          },
          (err: unknown) => {
            throw pipelineFailed(spec, key, err);
          },
        ),
      );
    }
  }
  // Every request settles before the first failure is thrown: none is left running unseen.
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return jobs.length;
}

/** A rejection of createComputePipelineAsync (a GPUPipelineError: reason 'validation' or 'internal'), or a scoped error, as one sentence. */
function pipelineFailed(spec: PipelineSpec, key: string, err: unknown): Error {
  const reason = (err as { reason?: string } | null)?.reason;
  const message = String((err as { message?: unknown } | null)?.message ?? err).replace(/\s*\n\s*/g, ' ').trim() || 'no message';
  const e = new Error(`${spec.family}: the GPU could not compile the pipeline ${spec.family}.pipeline[${key}] (${reason ?? 'error'}): ${message}`, { cause: err });
  e.name = ENGINE_ERRORS.PipelineFailed;
  return e;
}

/**
 * Workgroup counts [x, y] for `groups` workgroups, split over two dimensions when over
 * maxComputeWorkgroupsPerDimension (65535 by default). Kernels index workgroups as
 * wid.y × num_workgroups.x + wid.x and ignore the at most x − 1 spare ones.
 */
export function dispatchGrid(device: GPUDevice, groups: number): [number, number] {
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(groups, 1), 1];
  const x = max;
  const y = Math.ceil(groups / x);
  if (y > max) throw new RangeError(`dispatch of ${groups} workgroups exceeds ${max}² (maxComputeWorkgroupsPerDimension)`);
  return [x, y];
}

/** Throws unless the buffer holds at least `bytes`: a clear message instead of a validation error. */
export function checkBuffer(family: string, role: string, buffer: GPUBuffer, bytes: number): void {
  if (buffer.size < bytes) throw new RangeError(`${family}: ${role} buffer '${buffer.label}' has ${buffer.size} B, needs ${bytes} B`);
}

/** Throws unless n is a positive integer below 2^31 (indices are u32 in WGSL, with headroom for 2i + 1). */
export function checkCount(family: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0 || n >= 2 ** 31) throw new RangeError(`${family}: ${name} must be an integer in [1, 2^31), got ${n}`);
}

/**
 * Bind groups already made, per pipeline and then per buffer, binding by binding in ascending
 * order (a pipeline's bindings are fixed): a trie of weak maps. A training step repeats the
 * last one's dispatches on the same buffers (the ledger's pool hands them back), so after the
 * first step it makes none (createBindGroup cost ≈ 15 µs each on Dawn here, ~50 per mlp step).
 * Weak on every level: once any of its buffers is gone (or the pipeline), a bind group can be
 * collected, so runs that create buffers every step do not accumulate them.
 */
interface BindGroupNode {
  next: WeakMap<GPUBuffer, BindGroupNode>;
  group?: GPUBindGroup;
}
const bindGroups = new WeakMap<GPUComputePipeline, BindGroupNode>();

function bindGroupFor(device: GPUDevice, d: { pipeline: GPUComputePipeline; buffers: Record<number, GPUBuffer>; label: string }): GPUBindGroup {
  let node: BindGroupNode | undefined = bindGroups.get(d.pipeline);
  if (!node) {
    node = { next: new WeakMap() };
    bindGroups.set(d.pipeline, node);
  }
  // Integer-like keys enumerate in ascending order.
  for (const binding in d.buffers) {
    const buffer = d.buffers[binding]!;
    let child: BindGroupNode | undefined = node.next.get(buffer);
    if (!child) {
      child = { next: new WeakMap() };
      node.next.set(buffer, child);
    }
    node = child;
  }
  node.group ??= device.createBindGroup({
    label: d.label,
    layout: d.pipeline.getBindGroupLayout(0),
    entries: Object.entries(d.buffers).map(([binding, buffer]) => ({ binding: Number(binding), resource: bindingResource(buffer) })),
  });
  return node.group;
}

/**
 * Records a kernel call: one or more dispatches, each with its own bind group, in a compute
 * pass of their own, or, on a step's encoder (one with a work counter), in the pass the calls
 * before left open (work.ts passFor). `work` is what the kernel call computes (KERNEL_WORK of
 * estimate/vramlab-work.ts); it and the dispatches as recorded here are credited to the
 * encoder's work counter, if any.
 */
export function recordPass(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  label: string,
  dispatches: { pipeline: GPUComputePipeline; buffers: Record<number, GPUBuffer>; groups: number; label: string }[],
  work: KernelWork,
): void {
  // A step recorded for its pipelines only (Trainer.warmUp): nothing to record.
  if (isDryEncoder(encoder)) return;
  const bindGroups = dispatches.map((d) => bindGroupFor(device, d));
  const { pass, isNew, keepOpen } = passFor(encoder, label);
  countPass(encoder, work, dispatches.length, isNew);
  dispatches.forEach((d, i) => {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, bindGroups[i]!);
    const [x, y] = dispatchGrid(device, d.groups);
    pass.dispatchWorkgroups(x, y);
  });
  if (!keepOpen) pass.end();
}
