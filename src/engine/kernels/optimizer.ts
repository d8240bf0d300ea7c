/**
 * Optimizer family: a fused in-place update of n f32 values (one parameter tensor, or an arena
 * of them laid out alike: engine/graph/param-arena.ts), optionally writing their 16-bit copy in
 * the same dispatch, PyTorch semantics, and dynamic loss scaling kept entirely on the GPU. The
 * WGSL is shaders/optimizer.wgsl and shaders/loss-scale.wgsl.
 *
 * Runtime values (learning rate, bias corrections, 1/scale) live in a small f32 `hyper`
 * buffer the caller owns (a ledger buffer of HYPER_FLOATS × 4 B) and fills with writeHyper
 * before submitting the step; sizes and flags are override constants.
 */
import lossScaleWgsl from '../../../shaders/loss-scale.wgsl?raw';
import optimizerWgsl from '../../../shaders/optimizer.wgsl?raw';
import { STORAGE_CODE, cachedPipeline, checkBuffer, checkCount, recordPass, storageBytes, withStorageWgsl, type HalfStorage, type KernelCache } from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

export const OPTIMIZER_KINDS = ['sgd', 'sgd-momentum', 'adam', 'adamw'] as const;
export type OptimizerKind = (typeof OPTIMIZER_KINDS)[number];

/**
 * Length of the f32 hyper-parameter buffer (48 B). Slots:
 *   [0] lr
 *   [1] momentum (sgd-momentum) or beta1 (adam, adamw)
 *   [2] beta2
 *   [3] eps
 *   [4] weight decay: L2 added to the grad (sgd, sgd-momentum, adam); decoupled p *= 1 - lr·wd (adamw)
 *   [5] bias correction 1: 1 - beta1^step
 *   [6] bias correction 2: 1 - beta2^step
 *   [7] 1 / loss scale: grads are multiplied by it first (ignored when a lossState is given)
 *   [8] skip: non-zero skips the step (no write at all), e.g. after non-finite grads
 *   [9..11] reserved (0)
 */
export const HYPER_FLOATS = 12;
export const HYPER_BYTES = HYPER_FLOATS * 4;

/** lossState: [0] scale (f32), [1] growth counter (u32), [2] found-inf flag (u32), [3] skipped steps (u32). */
export const LOSS_STATE_BYTES = 16;
/** PyTorch GradScaler's defaults: the caller writes INITIAL_LOSS_SCALE into word 0 at setup. */
export const INITIAL_LOSS_SCALE = 65536;
export const DEFAULT_GROWTH_INTERVAL = 2000;

/** Invocations per workgroup of every optimizer and loss-scale dispatch (update_scale is one invocation). */
export const OPTIMIZER_WORKGROUP_SIZE = 256;

export interface HyperValues {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** sgd-momentum's μ; slot [1] when no beta1 is given (slot [1] is beta1 for adam/adamw). */
  momentum?: number;
  /** 1-based step number t of the bias corrections. */
  step: number;
  invLossScale?: number;
  skip?: boolean;
}

/** The hyper slots as f32 (PyTorch's defaults: beta1 0.9, beta2 0.999, eps 1e-8, wd 0). */
export function hyperValues(h: HyperValues): Float32Array {
  if (!Number.isInteger(h.step) || h.step < 1) throw new RangeError(`Optimizer: step must be an integer ≥ 1, got ${h.step}`);
  const beta1 = h.beta1 ?? 0.9;
  const beta2 = h.beta2 ?? 0.999;
  const out = new Float32Array(HYPER_FLOATS);
  out[0] = h.lr;
  out[1] = h.beta1 ?? h.momentum ?? 0.9;
  out[2] = beta2;
  out[3] = h.eps ?? 1e-8;
  out[4] = h.weightDecay ?? 0;
  out[5] = 1 - beta1 ** h.step;
  out[6] = 1 - beta2 ** h.step;
  out[7] = h.invLossScale ?? 1;
  out[8] = h.skip ? 1 : 0;
  return out;
}

/** Host-side write of the hyper buffer; queue order puts it before the step's encoder when done before submit. */
export function writeHyper(queue: GPUQueue, hyper: GPUBuffer, h: HyperValues): void {
  checkBuffer('Optimizer', 'hyper', hyper, HYPER_BYTES);
  queue.writeBuffer(hyper, 0, hyperValues(h));
}

export interface OptimizerStepArgs {
  kind: OptimizerKind;
  n: number;
  /** f32, n values, updated in place. */
  params: GPUBuffer;
  /** f32, n values, possibly multiplied by the loss scale. */
  grads: GPUBuffer;
  /** f32, n values: the momentum buffer (sgd-momentum) or first moment (adam, adamw); zero at setup. */
  m?: GPUBuffer;
  /** f32, n values: the second moment (adam, adamw); zero at setup. */
  v?: GPUBuffer;
  hyper: GPUBuffer;
  /** When given, its scale replaces hyper[7] and its found-inf flag skips the step. */
  lossState?: GPUBuffer;
  /**
   * When given, the updated values are also written here in 16-bit storage (packed, ⌈n/2⌉
   * words), as a cast after the update would: the amp copy refreshed in the same dispatch.
   */
  half?: { buffer: GPUBuffer; storage: HalfStorage };
  /**
   * The values the work counter credits (work.ts), when n includes an arena's padding: the
   * tensors' values, and those of them whose 16-bit copy is read (matmul weights). The
   * padding is updated too, but is no part of the algorithm's FLOPs. Default n, and n with half.
   */
  counted?: { values: number; halfValues: number };
  label?: string;
}

const optimizerCaches = new WeakMap<GPUDevice, KernelCache>();
const lossScaleCaches = new WeakMap<GPUDevice, KernelCache>();
const optimizerCode = withStorageWgsl(optimizerWgsl);
const lossScaleCode = withStorageWgsl(lossScaleWgsl);

const ENTRY = { sgd: 'sgd', 'sgd-momentum': 'sgd_momentum', adam: 'adam', adamw: 'adam' } as const satisfies Record<OptimizerKind, string>;

export function recordOptimizerStep(device: GPUDevice, encoder: GPUCommandEncoder, args: OptimizerStepArgs): void {
  const { kind, n } = args;
  if (!OPTIMIZER_KINDS.includes(kind)) throw new TypeError(`Optimizer: unknown kind '${String(kind)}', expected one of ${OPTIMIZER_KINDS.join(', ')}`);
  checkCount('Optimizer', 'n', n);
  checkBuffer('Optimizer', 'params', args.params, 4 * n);
  checkBuffer('Optimizer', 'grads', args.grads, 4 * n);
  checkBuffer('Optimizer', 'hyper', args.hyper, HYPER_BYTES);
  if (args.lossState) checkBuffer('Optimizer', 'lossState', args.lossState, LOSS_STATE_BYTES);
  const buffers: Record<number, GPUBuffer> = { 0: args.params, 1: args.grads, 2: args.hyper, 3: args.lossState ?? args.hyper };
  if (kind !== 'sgd') {
    if (!args.m) throw new TypeError(`Optimizer: ${kind} needs the state buffer m`);
    checkBuffer('Optimizer', 'm', args.m, 4 * n);
    buffers[4] = args.m;
  }
  if (kind === 'adam' || kind === 'adamw') {
    if (!args.v) throw new TypeError(`Optimizer: ${kind} needs the state buffer v`);
    checkBuffer('Optimizer', 'v', args.v, 4 * n);
    buffers[5] = args.v;
  }
  const half = args.half;
  if (half) {
    checkBuffer('Optimizer', 'half', half.buffer, storageBytes(n, half.storage));
    buffers[6] = half.buffer;
  }
  const pipeline = cachedPipeline(optimizerCaches, device, {
    family: 'Optimizer',
    code: optimizerCode,
    entryPoint: half ? `${ENTRY[kind]}_half` : ENTRY[kind],
    constants: {
      N: n,
      WG: OPTIMIZER_WORKGROUP_SIZE,
      DECOUPLED: Number(kind === 'adamw'),
      USE_LOSS_STATE: Number(args.lossState !== undefined),
      ...(half ? { HALF_KIND: STORAGE_CODE[half.storage] } : {}),
    },
  });
  // With a half copy one invocation updates a pair of values and writes their packed word.
  const invocations = half ? Math.ceil(n / 2) : n;
  recordPass(device, encoder, args.label ?? `Optimizer.pass[${kind}]`, [
    { pipeline, buffers, groups: Math.ceil(invocations / OPTIMIZER_WORKGROUP_SIZE), label: `Optimizer.bindGroup[${kind}]` },
  ], KERNEL_WORK.optimizer(kind, args.counted?.values ?? n, args.counted?.halfValues ?? (half ? n : 0)));
}

/** Sets lossState[2] (found-inf) when any of the n f32 grads is ±inf or NaN: one grad tensor, or an arena of them (`counted`: its tensors' values). */
export function recordCheckFinite(device: GPUDevice, encoder: GPUCommandEncoder, args: { grads: GPUBuffer; n: number; lossState: GPUBuffer; counted?: number; label?: string }): void {
  const { n } = args;
  checkCount('LossScale', 'n', n);
  checkBuffer('LossScale', 'grads', args.grads, 4 * n);
  checkBuffer('LossScale', 'lossState', args.lossState, LOSS_STATE_BYTES);
  const pipeline = cachedPipeline(lossScaleCaches, device, {
    family: 'LossScale',
    code: lossScaleCode,
    entryPoint: 'check_finite',
    constants: { N: n, WG: OPTIMIZER_WORKGROUP_SIZE },
  });
  recordPass(device, encoder, args.label ?? 'LossScale.pass[checkFinite]', [
    { pipeline, buffers: { 0: args.grads, 1: args.lossState }, groups: Math.ceil(n / OPTIMIZER_WORKGROUP_SIZE), label: 'LossScale.bindGroup[checkFinite]' },
  ], KERNEL_WORK.checkFinite(args.counted ?? n));
}

/**
 * After the optimizer: found-inf → scale /= 2, counter = 0, skipped += 1; else counter += 1
 * and at growthInterval scale *= 2 (if finite), counter = 0. Then clears found-inf.
 */
export function recordUpdateLossScale(device: GPUDevice, encoder: GPUCommandEncoder, args: { lossState: GPUBuffer; growthInterval: number; label?: string }): void {
  checkCount('LossScale', 'growthInterval', args.growthInterval);
  checkBuffer('LossScale', 'lossState', args.lossState, LOSS_STATE_BYTES);
  const pipeline = cachedPipeline(lossScaleCaches, device, {
    family: 'LossScale',
    code: lossScaleCode,
    entryPoint: 'update_scale',
    constants: { GROWTH_INTERVAL: args.growthInterval },
  });
  recordPass(device, encoder, args.label ?? 'LossScale.pass[update]', [
    { pipeline, buffers: { 2: args.lossState }, groups: 1, label: 'LossScale.bindGroup[update]' },
  ], KERNEL_WORK.updateLossScale());
}

/** The 16 B a lossState buffer starts with: scale, counter 0, flag 0, skipped 0. */
export function initialLossState(scale = INITIAL_LOSS_SCALE): Uint32Array {
  const words = new Uint32Array(4);
  new Float32Array(words.buffer, 0, 1)[0] = scale;
  return words;
}
