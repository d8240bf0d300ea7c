/**
 * BatchNorm2d family in training mode, NCHW: batch statistics per channel, y = γ·x̂ + β, then
 * optionally + a residual and ReLU (the last BatchNorm of a residual block: relu(bn(x) + res));
 * the backward to x, γ and β (and the residual). x, y and res in any Storage, computed in f32;
 * statistics, affine parameters and all gradients are f32. The WGSL is shaders/batchnorm.wgsl.
 *
 * Layout per layer: affine = [γ[C], β[C]] (one parameter tensor, so its gradient is one
 * buffer too), stats = [mean[C], rstd[C]] (saved for backward: rstd = 1/√(var + ε), var the
 * biased batch variance), running = [mean[C], var[C]] (a model buffer, updated with momentum 0.1
 * and the unbiased variance, as torch.nn.BatchNorm2d does; a recompute passes
 * updateRunning: false, so checkpointing does not update them twice). ε = 1e-5.
 *
 * Forward: two dispatches (statistics, one workgroup per channel; the normalisation, one word
 * per invocation). Backward: two (dγ and dβ, one workgroup per channel; dx, one element per
 * invocation). With ReLU the backward masks dy with the saved output y > 0 itself.
 */
import batchnormWgsl from '../../../shaders/batchnorm.wgsl?raw';
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

/** Lanes of the per-channel workgroups (a power of two) and of the element-wise dispatches. */
export const BATCHNORM_WORKGROUP_SIZE = 256;
export const BATCHNORM_EPS = 1e-5;
export const BATCHNORM_MOMENTUM = 0.1;

export interface BatchNormShape {
  N: number;
  C: number;
  /** H·W of each channel plane. */
  HW: number;
}

export interface BatchNormArgs extends BatchNormShape {
  x: GPUBuffer;
  xStorage: Storage;
  /** f32, 2·C: γ then β. */
  affine: GPUBuffer;
  /** f32, 2·C, written: mean then rstd. */
  stats: GPUBuffer;
  /** f32, 2·C: running mean then running var. */
  running: GPUBuffer;
  updateRunning: boolean;
  y: GPUBuffer;
  yStorage: Storage;
  relu: boolean;
  /** relu(bn(x) + res); needs relu. */
  residual?: { buffer: GPUBuffer; storage: Storage };
  label?: string;
}

export interface BatchNormBackwardArgs extends BatchNormShape {
  x: GPUBuffer;
  xStorage: Storage;
  affine: GPUBuffer;
  stats: GPUBuffer;
  /** f32, the gradient of y. */
  dy: GPUBuffer;
  /** The saved output, when the forward applied ReLU (its mask). */
  relu?: { y: GPUBuffer; yStorage: Storage };
  /** f32, N·C·HW, overwritten. */
  dx: GPUBuffer;
  /** f32, 2·C, overwritten: dγ then dβ. */
  daffine: GPUBuffer;
  /** f32, N·C·HW, overwritten with the residual's gradient (dy after the ReLU mask); needs relu. */
  dres?: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(batchnormWgsl);
const wg = BATCHNORM_WORKGROUP_SIZE;

function check(s: BatchNormShape): number {
  checkCount('BatchNorm', 'N', s.N);
  checkCount('BatchNorm', 'C', s.C);
  checkCount('BatchNorm', 'HW', s.HW);
  const n = s.N * s.C * s.HW;
  checkCount('BatchNorm', 'N·C·HW', n);
  if (!(wg > 0 && (wg & (wg - 1)) === 0)) throw new Error('BatchNorm: BATCHNORM_WORKGROUP_SIZE must be a power of two');
  return n;
}

export function recordBatchNorm(device: GPUDevice, encoder: GPUCommandEncoder, args: BatchNormArgs): void {
  const n = check(args);
  if (args.residual && !args.relu) throw new TypeError('BatchNorm: a residual is added only before a ReLU (relu(bn(x) + res))');
  checkBuffer('BatchNorm', 'x', args.x, storageBytes(n, args.xStorage));
  checkBuffer('BatchNorm', 'y', args.y, storageBytes(n, args.yStorage));
  for (const [role, b] of [['affine', args.affine], ['stats', args.stats], ['running', args.running]] as const) checkBuffer('BatchNorm', role, b, 8 * args.C);
  if (args.residual) checkBuffer('BatchNorm', 'residual', args.residual.buffer, storageBytes(n, args.residual.storage));
  const base = { N: args.N, C: args.C, HW: args.HW, X_KIND: STORAGE_CODE[args.xStorage] };
  const stats = cachedPipeline(caches, device, {
    family: 'BatchNorm',
    code,
    entryPoint: 'forward_stats',
    constants: { ...base, UPDATE_RUNNING: Number(args.updateRunning), EPS: BATCHNORM_EPS, MOMENTUM: BATCHNORM_MOMENTUM, WG: wg },
  });
  const entryPoint = args.residual ? 'normalize_relu_res' : args.relu ? 'normalize_relu' : 'normalize';
  const normalize = cachedPipeline(caches, device, {
    family: 'BatchNorm',
    code,
    entryPoint,
    constants: { ...base, Y_KIND: STORAGE_CODE[args.yStorage], R_KIND: STORAGE_CODE[args.residual?.storage ?? 'f32'], WG: wg },
  });
  const buffers: Record<number, GPUBuffer> = { 0: args.x, 1: args.affine, 3: args.stats, 6: args.y };
  if (args.residual) buffers[7] = args.residual.buffer;
  recordPass(device, encoder, args.label ? `BatchNorm.pass[${args.label}]` : 'BatchNorm.pass', [
    { pipeline: stats, buffers: { 0: args.x, 3: args.stats, 5: args.running }, groups: args.C, label: 'BatchNorm.bindGroup[stats]' },
    { pipeline: normalize, buffers, groups: Math.ceil(Math.ceil(n / 2) / wg), label: `BatchNorm.bindGroup[${entryPoint}]` },
  ], CNN_KERNEL_WORK.batchNorm(n, args.relu, args.residual !== undefined));
}

export function recordBatchNormBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: BatchNormBackwardArgs): void {
  const n = check(args);
  if (args.dres && !args.relu) throw new TypeError('BatchNorm: the residual gradient needs the ReLU mask (relu(bn(x) + res))');
  checkBuffer('BatchNorm', 'x', args.x, storageBytes(n, args.xStorage));
  for (const [role, b] of [['affine', args.affine], ['stats', args.stats], ['daffine', args.daffine]] as const) checkBuffer('BatchNorm', role, b, 8 * args.C);
  checkBuffer('BatchNorm', 'dy', args.dy, 4 * n);
  checkBuffer('BatchNorm', 'dx', args.dx, 4 * n);
  if (args.relu) checkBuffer('BatchNorm', 'y', args.relu.y, storageBytes(n, args.relu.yStorage));
  if (args.dres) checkBuffer('BatchNorm', 'dres', args.dres, 4 * n);
  const constants = { N: args.N, C: args.C, HW: args.HW, X_KIND: STORAGE_CODE[args.xStorage], Y_KIND: STORAGE_CODE[args.relu?.yStorage ?? 'f32'], WG: wg };
  const suffix = args.dres ? '_relu_res' : args.relu ? '_relu' : '';
  const statsBuffers: Record<number, GPUBuffer> = { 0: args.x, 3: args.stats, 8: args.dy, 10: args.daffine };
  const inputBuffers: Record<number, GPUBuffer> = { 0: args.x, 1: args.affine, 3: args.stats, 8: args.dy, 9: args.dx, 10: args.daffine };
  if (args.relu) statsBuffers[6] = inputBuffers[6] = args.relu.y;
  if (args.dres) inputBuffers[11] = args.dres;
  const gradStats = cachedPipeline(caches, device, { family: 'BatchNorm', code, entryPoint: `backward_stats${args.relu ? '_relu' : ''}`, constants });
  const gradInput = cachedPipeline(caches, device, { family: 'BatchNorm', code, entryPoint: `backward_input${suffix}`, constants });
  recordPass(device, encoder, args.label ? `BatchNorm.pass[${args.label}]` : 'BatchNorm.pass[backward]', [
    { pipeline: gradStats, buffers: statsBuffers, groups: args.C, label: 'BatchNorm.bindGroup[backward_stats]' },
    { pipeline: gradInput, buffers: inputBuffers, groups: Math.ceil(n / wg), label: `BatchNorm.bindGroup[backward_input${suffix}]` },
  ], CNN_KERNEL_WORK.batchNormBackward(n, args.relu !== undefined));
}
