/**
 * Loss family: mean squared output, loss = mean(y²), the synthetic objective of the lab's
 * training step (a regression on zero targets: what matters is the memory of the backward,
 * not the task). One pass, two dispatches: the value (one workgroup) and dy (one invocation
 * per value). The WGSL is shaders/loss.wgsl.
 */
import lossWgsl from '../../../shaders/loss.wgsl?raw';
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

/** Invocations per workgroup of both dispatches (a power of two for the tree sum). */
export const LOSS_WORKGROUP_SIZE = 256;

export interface MseLossArgs {
  /** n values of storage yStorage. */
  y: GPUBuffer;
  yStorage: Storage;
  n: number;
  /** f32, 1 value: mean(y²), unscaled. */
  loss: GPUBuffer;
  /** f32, n values: 2·y / n · scale. */
  dy: GPUBuffer;
  /** f32 scale in word 0: a buffer holding 1.0 for fp32, or the optimizer's lossState. */
  lossScale: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(lossWgsl);

export function recordMseLoss(device: GPUDevice, encoder: GPUCommandEncoder, args: MseLossArgs): void {
  const { n } = args;
  // The tree sum of the value dispatch halves the workgroup each round.
  if (!(LOSS_WORKGROUP_SIZE > 0 && (LOSS_WORKGROUP_SIZE & (LOSS_WORKGROUP_SIZE - 1)) === 0)) throw new Error('Loss: LOSS_WORKGROUP_SIZE must be a power of two');
  checkCount('Loss', 'n', n);
  checkBuffer('Loss', 'y', args.y, storageBytes(n, args.yStorage));
  checkBuffer('Loss', 'loss', args.loss, 4);
  checkBuffer('Loss', 'dy', args.dy, 4 * n);
  checkBuffer('Loss', 'lossScale', args.lossScale, 4);
  const constants = { N: n, Y_KIND: STORAGE_CODE[args.yStorage], WG: LOSS_WORKGROUP_SIZE };
  const value = cachedPipeline(caches, device, { family: 'Loss', code, entryPoint: 'value', constants });
  const grad = cachedPipeline(caches, device, { family: 'Loss', code, entryPoint: 'grad', constants });
  recordPass(device, encoder, args.label ?? 'Loss.pass', [
    { pipeline: value, buffers: { 0: args.y, 1: args.loss }, groups: 1, label: 'Loss.bindGroup[value]' },
    { pipeline: grad, buffers: { 0: args.y, 2: args.dy, 3: args.lossScale }, groups: Math.ceil(n / LOSS_WORKGROUP_SIZE), label: 'Loss.bindGroup[grad]' },
  ], KERNEL_WORK.mseLoss(n));
}
