/**
 * Elementwise family: out = a + b in any storages (the residual add: x + attn(ln(x))), and
 * into += x in f32 (gradient branches meeting at a residual are summed into one buffer).
 * The WGSL is shaders/elementwise.wgsl; sizes and storages are override constants.
 *
 * add runs one invocation per pair of elements, so packed words are written whole:
 * ceil(ceil(n / 2) / ELEMENTWISE_WORKGROUP_SIZE) workgroups; accumulate one per element.
 * Neither works in place through two bindings (WebGPU forbids a buffer bound both read-only
 * and writable in one dispatch): out must be a third buffer.
 */
import elementwiseWgsl from '../../../shaders/elementwise.wgsl?raw';
import {
  STORAGE_CODE,
  cachedPipeline,
  checkBuffer,
  checkCount,
  recordPass,
  storageBytes,
  withStorageWgsl,
  type KernelCache,
  type Storage,
} from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

/** Invocations per workgroup: the WG override and the dispatch counts both come from here. */
export const ELEMENTWISE_WORKGROUP_SIZE = 256;

export interface AddArgs {
  /** n values of storage aStorage. */
  a: GPUBuffer;
  aStorage: Storage;
  /** n values of storage bStorage; may be the same buffer as a. */
  b: GPUBuffer;
  bStorage: Storage;
  /** n values of storage outStorage, overwritten; not a or b. */
  out: GPUBuffer;
  outStorage: Storage;
  n: number;
  label?: string;
}

export interface AccumulateArgs {
  /** f32, n values. */
  x: GPUBuffer;
  /** f32, n values: into += x; not x. */
  into: GPUBuffer;
  n: number;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(elementwiseWgsl);

/** out = a + b, computed in f32 and rounded once to outStorage. */
export function recordAdd(device: GPUDevice, encoder: GPUCommandEncoder, args: AddArgs): void {
  const { n } = args;
  checkCount('Elementwise', 'n', n);
  checkBuffer('Elementwise', 'a', args.a, storageBytes(n, args.aStorage));
  checkBuffer('Elementwise', 'b', args.b, storageBytes(n, args.bStorage));
  checkBuffer('Elementwise', 'out', args.out, storageBytes(n, args.outStorage));
  if (args.out === args.a || args.out === args.b) throw new TypeError(`Elementwise: add's out buffer '${args.out.label}' must differ from a and b (no in-place add; use recordAccumulate for f32)`);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Elementwise',
    code,
    entryPoint: 'add',
    constants: {
      N: n,
      A_KIND: STORAGE_CODE[args.aStorage],
      B_KIND: STORAGE_CODE[args.bStorage],
      OUT_KIND: STORAGE_CODE[args.outStorage],
      WG: ELEMENTWISE_WORKGROUP_SIZE,
    },
  });
  const pairs = Math.ceil(n / 2);
  recordPass(device, encoder, args.label ?? 'Elementwise.pass[add]', [
    { pipeline, buffers: { 0: args.a, 1: args.b, 2: args.out }, groups: Math.ceil(pairs / ELEMENTWISE_WORKGROUP_SIZE), label: 'Elementwise.bindGroup[add]' },
  ], KERNEL_WORK.add(n));
}

/** into += x, f32. */
export function recordAccumulate(device: GPUDevice, encoder: GPUCommandEncoder, args: AccumulateArgs): void {
  const { n } = args;
  checkCount('Elementwise', 'n', n);
  checkBuffer('Elementwise', 'x', args.x, 4 * n);
  checkBuffer('Elementwise', 'into', args.into, 4 * n);
  if (args.x === args.into) throw new TypeError(`Elementwise: accumulate's x and into are the same buffer '${args.x.label}'`);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Elementwise',
    code,
    entryPoint: 'accumulate',
    constants: { N: n, WG: ELEMENTWISE_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ?? 'Elementwise.pass[accumulate]', [
    { pipeline, buffers: { 3: args.x, 4: args.into }, groups: Math.ceil(n / ELEMENTWISE_WORKGROUP_SIZE), label: 'Elementwise.bindGroup[accumulate]' },
  ], KERNEL_WORK.accumulate(n));
}
