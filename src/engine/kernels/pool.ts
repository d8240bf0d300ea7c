/**
 * Pooling family, NCHW: max pooling over 2×2 windows with stride 2 (floor mode), and global
 * average pooling (N×C×H×W → N×C), forward and backward. The WGSL is shaders/pool.wgsl.
 *
 * Max pooling saves no indices: its backward finds each window's argmax again from the saved
 * input (first maximum in row-major order, as PyTorch's kernels pick it), so what backward
 * keeps is the input, which the ReLU before it keeps anyway; PyTorch saves int64 indices, one
 * per output value, besides. Outputs in any Storage, one word per invocation; gradients f32.
 */
import poolWgsl from '../../../shaders/pool.wgsl?raw';
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
import { CNN_KERNEL_WORK } from '../../estimate/cnn-work.ts';

export const POOL_WORKGROUP_SIZE = 64;

export interface PoolShape {
  N: number;
  C: number;
  H: number;
  W: number;
}

export interface PoolArgs extends PoolShape {
  x: GPUBuffer;
  xStorage: Storage;
  /** max: N×C×⌊H/2⌋×⌊W/2⌋; average: N×C. Overwritten. */
  y: GPUBuffer;
  yStorage: Storage;
  label?: string;
}

export interface PoolBackwardArgs extends PoolShape {
  /** max only: the forward's input. */
  x?: GPUBuffer;
  xStorage?: Storage;
  /** f32, the output's gradient. */
  dy: GPUBuffer;
  /** f32, N×C×H×W, overwritten. */
  dx: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(poolWgsl);
const groupsFor = (n: number) => Math.ceil(n / POOL_WORKGROUP_SIZE);

function check(s: PoolShape, kind: 'max' | 'avg'): number {
  for (const k of ['N', 'C', 'H', 'W'] as const) checkCount('Pool', k, s[k]);
  if (kind === 'max' && (s.H < 2 || s.W < 2)) throw new RangeError(`Pool: 2×2 max pooling needs an input of at least 2×2, got ${s.H}×${s.W}`);
  const n = s.N * s.C * s.H * s.W;
  checkCount('Pool', 'N·C·H·W', n);
  return n;
}

const shapeConstants = (s: PoolShape) => ({ N: s.N, C: s.C, H: s.H, W: s.W });

export function recordMaxPool(device: GPUDevice, encoder: GPUCommandEncoder, args: PoolArgs): void {
  const n = check(args, 'max');
  const outN = args.N * args.C * Math.floor(args.H / 2) * Math.floor(args.W / 2);
  checkBuffer('Pool', 'x', args.x, storageBytes(n, args.xStorage));
  checkBuffer('Pool', 'y', args.y, storageBytes(outN, args.yStorage));
  const pipeline = cachedPipeline(caches, device, {
    family: 'Pool',
    code,
    entryPoint: 'max_forward',
    constants: { ...shapeConstants(args), X_KIND: STORAGE_CODE[args.xStorage], Y_KIND: STORAGE_CODE[args.yStorage], WG: POOL_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ? `Pool.pass[${args.label}]` : 'Pool.pass[max]', [
    { pipeline, buffers: { 0: args.x, 1: args.y }, groups: groupsFor(Math.ceil(outN / 2)), label: 'Pool.bindGroup[max_forward]' },
  ], CNN_KERNEL_WORK.maxPool(outN));
}

export function recordMaxPoolBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: PoolBackwardArgs): void {
  const n = check(args, 'max');
  if (!args.x || !args.xStorage) throw new TypeError('Pool: max pooling backward needs the forward input x');
  checkBuffer('Pool', 'x', args.x, storageBytes(n, args.xStorage));
  checkBuffer('Pool', 'dy', args.dy, 4 * args.N * args.C * Math.floor(args.H / 2) * Math.floor(args.W / 2));
  checkBuffer('Pool', 'dx', args.dx, 4 * n);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Pool',
    code,
    entryPoint: 'max_backward',
    constants: { ...shapeConstants(args), X_KIND: STORAGE_CODE[args.xStorage], WG: POOL_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ? `Pool.pass[${args.label}]` : 'Pool.pass[max backward]', [
    { pipeline, buffers: { 0: args.x, 2: args.dy, 3: args.dx }, groups: groupsFor(n), label: 'Pool.bindGroup[max_backward]' },
  ], CNN_KERNEL_WORK.maxPoolBackward(n));
}

export function recordAvgPool(device: GPUDevice, encoder: GPUCommandEncoder, args: PoolArgs): void {
  const n = check(args, 'avg');
  checkBuffer('Pool', 'x', args.x, storageBytes(n, args.xStorage));
  checkBuffer('Pool', 'y', args.y, storageBytes(args.N * args.C, args.yStorage));
  const pipeline = cachedPipeline(caches, device, {
    family: 'Pool',
    code,
    entryPoint: 'avg_forward',
    constants: { ...shapeConstants(args), X_KIND: STORAGE_CODE[args.xStorage], Y_KIND: STORAGE_CODE[args.yStorage], WG: POOL_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ? `Pool.pass[${args.label}]` : 'Pool.pass[avg]', [
    { pipeline, buffers: { 0: args.x, 1: args.y }, groups: groupsFor(Math.ceil((args.N * args.C) / 2)), label: 'Pool.bindGroup[avg_forward]' },
  ], CNN_KERNEL_WORK.avgPool(n));
}

export function recordAvgPoolBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: PoolBackwardArgs): void {
  const n = check(args, 'avg');
  checkBuffer('Pool', 'dy', args.dy, 4 * args.N * args.C);
  checkBuffer('Pool', 'dx', args.dx, 4 * n);
  const pipeline = cachedPipeline(caches, device, { family: 'Pool', code, entryPoint: 'avg_backward', constants: { ...shapeConstants(args), WG: POOL_WORKGROUP_SIZE } });
  recordPass(device, encoder, args.label ? `Pool.pass[${args.label}]` : 'Pool.pass[avg backward]', [
    { pipeline, buffers: { 2: args.dy, 3: args.dx }, groups: groupsFor(n), label: 'Pool.bindGroup[avg_backward]' },
  ], CNN_KERNEL_WORK.avgPoolBackward(n));
}
