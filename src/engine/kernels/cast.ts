/**
 * Cast family: dst = src converted between storages, n values: f32 → f16/bf16 (packed,
 * round to nearest-even, see storage.ts), any → f32 (exact), or f16 ↔ bf16. The WGSL is
 * shaders/cast.wgsl; one invocation per pair of elements so packed words are written whole.
 */
import castWgsl from '../../../shaders/cast.wgsl?raw';
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

export const CAST_WORKGROUP_SIZE = 256;

export interface CastArgs {
  src: GPUBuffer;
  srcStorage: Storage;
  dst: GPUBuffer;
  dstStorage: Storage;
  n: number;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(castWgsl);

export function recordCast(device: GPUDevice, encoder: GPUCommandEncoder, args: CastArgs): void {
  const { n } = args;
  checkCount('Cast', 'n', n);
  checkBuffer('Cast', 'src', args.src, storageBytes(n, args.srcStorage));
  checkBuffer('Cast', 'dst', args.dst, storageBytes(n, args.dstStorage));
  if (args.src === args.dst) throw new TypeError('Cast: src and dst must be different buffers');
  const pipeline = cachedPipeline(caches, device, {
    family: 'Cast',
    code,
    entryPoint: 'convert',
    constants: { N: n, SRC_KIND: STORAGE_CODE[args.srcStorage], DST_KIND: STORAGE_CODE[args.dstStorage], WG: CAST_WORKGROUP_SIZE },
  });
  const pairs = Math.ceil(n / 2);
  recordPass(device, encoder, args.label ?? `Cast.pass[${args.srcStorage}→${args.dstStorage}]`, [
    { pipeline, buffers: { 0: args.src, 1: args.dst }, groups: Math.ceil(pairs / CAST_WORKGROUP_SIZE), label: 'Cast.bindGroup' },
  ], KERNEL_WORK.cast(n));
}
