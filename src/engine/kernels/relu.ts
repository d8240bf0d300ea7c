/**
 * ReLU family: y = max(x, 0) in any storages, and dx = dy·[y > 0] (f32) from the saved output,
 * so a ReLU keeps only its output for backward, the tensor the next layer keeps anyway (as
 * PyTorch's in-place ReLU does). The WGSL is shaders/relu.wgsl.
 * forward: one invocation per pair of elements (packed words written whole); backward: one per element.
 */
import reluWgsl from '../../../shaders/relu.wgsl?raw';
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

export const RELU_WORKGROUP_SIZE = 256;

export interface ReluArgs {
  n: number;
  x: GPUBuffer;
  xStorage: Storage;
  /** n values, overwritten; not x. */
  y: GPUBuffer;
  yStorage: Storage;
  label?: string;
}

export interface ReluBackwardArgs {
  n: number;
  /** The forward's output. */
  y: GPUBuffer;
  yStorage: Storage;
  /** f32. */
  dy: GPUBuffer;
  /** f32, overwritten; not dy. */
  dx: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(reluWgsl);

export function recordRelu(device: GPUDevice, encoder: GPUCommandEncoder, args: ReluArgs): void {
  checkCount('Relu', 'n', args.n);
  checkBuffer('Relu', 'x', args.x, storageBytes(args.n, args.xStorage));
  checkBuffer('Relu', 'y', args.y, storageBytes(args.n, args.yStorage));
  if (args.x === args.y) throw new TypeError(`Relu: y must differ from x ('${args.x.label}')`);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Relu',
    code,
    entryPoint: 'forward',
    constants: { COUNT: args.n, X_KIND: STORAGE_CODE[args.xStorage], Y_KIND: STORAGE_CODE[args.yStorage], WG: RELU_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ? `Relu.pass[${args.label}]` : 'Relu.pass', [
    { pipeline, buffers: { 0: args.x, 1: args.y }, groups: Math.ceil(Math.ceil(args.n / 2) / RELU_WORKGROUP_SIZE), label: 'Relu.bindGroup[forward]' },
  ], CNN_KERNEL_WORK.relu(args.n));
}

export function recordReluBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: ReluBackwardArgs): void {
  checkCount('Relu', 'n', args.n);
  checkBuffer('Relu', 'y', args.y, storageBytes(args.n, args.yStorage));
  checkBuffer('Relu', 'dy', args.dy, 4 * args.n);
  checkBuffer('Relu', 'dx', args.dx, 4 * args.n);
  if (args.dx === args.dy) throw new TypeError(`Relu: dx must differ from dy ('${args.dy.label}')`);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Relu',
    code,
    entryPoint: 'backward',
    constants: { COUNT: args.n, Y_KIND: STORAGE_CODE[args.yStorage], WG: RELU_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ? `Relu.pass[${args.label}]` : 'Relu.pass[backward]', [
    { pipeline, buffers: { 1: args.y, 2: args.dy, 3: args.dx }, groups: Math.ceil(args.n / RELU_WORKGROUP_SIZE), label: 'Relu.bindGroup[backward]' },
  ], CNN_KERNEL_WORK.reluBackward(args.n));
}
