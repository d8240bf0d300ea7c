/**
 * Conv2d family, NCHW: y = conv(x, w) + bias with stride and zero padding, square kernels;
 * dx = conv_transpose(dy, w) (overwriting dx, or adding to it), dw = Σ dy ⊗ x and db = Σ dy.
 * x, w and y in any Storage, computed in f32; dy, dx, dw and db are f32. The WGSL is
 * shaders/conv.wgsl; shapes, storages and flags are override constants, so each (shape,
 * storages, flags) is one cached pipeline.
 *
 * Direct convolution, one invocation per output word (forward) or per gradient element
 * (backward): no im2col buffer, so the convolution needs no workspace at all (cuDNN's
 * algorithms often do; the PyTorch estimate counts that as its own line).
 */
import convWgsl from '../../../shaders/conv.wgsl?raw';
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
import { CNN_KERNEL_WORK, type ConvShape } from '../../estimate/cnn-work.ts';

/** Invocations per workgroup: the WG override and the dispatch counts both come from here. */
export const CONV_WORKGROUP_SIZE = 64;

export interface ConvGeometry {
  N: number;
  cin: number;
  H: number;
  W: number;
  cout: number;
  /** Square kernel side. */
  k: number;
  stride: number;
  pad: number;
}

/** Output side of a conv or pool: ⌊(side + 2·pad − k)/stride⌋ + 1 (PyTorch's floor mode). */
export function convOutSide(side: number, k: number, stride: number, pad: number): number {
  return Math.floor((side + 2 * pad - k) / stride) + 1;
}

export function convShape(g: ConvGeometry): ConvShape {
  return { N: g.N, cin: g.cin, H: g.H, W: g.W, cout: g.cout, k: g.k, OH: convOutSide(g.H, g.k, g.stride, g.pad), OW: convOutSide(g.W, g.k, g.stride, g.pad) };
}

export interface ConvArgs extends ConvGeometry {
  x: GPUBuffer;
  xStorage: Storage;
  /** cout×cin×k×k. */
  w: GPUBuffer;
  wStorage: Storage;
  /** N×cout×OH×OW, overwritten. */
  y: GPUBuffer;
  yStorage: Storage;
  /** f32, cout values. */
  bias?: GPUBuffer;
  label?: string;
}

export interface ConvBackwardInputArgs extends ConvGeometry {
  /** f32, N×cout×OH×OW. */
  dy: GPUBuffer;
  w: GPUBuffer;
  wStorage: Storage;
  /** f32, N×cin×H×W. */
  dx: GPUBuffer;
  /** Add into dx instead of overwriting it (a tensor two convs read). */
  accumulate: boolean;
  label?: string;
}

export interface ConvBackwardWeightArgs extends ConvGeometry {
  dy: GPUBuffer;
  x: GPUBuffer;
  xStorage: Storage;
  /** f32, cout×cin×k×k, overwritten. */
  dw: GPUBuffer;
  /** f32, cout values, overwritten. */
  db?: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(convWgsl);

function check(g: ConvGeometry): ConvShape {
  for (const k of ['N', 'cin', 'H', 'W', 'cout', 'k', 'stride'] as const) checkCount('Conv', k, g[k]);
  if (!Number.isInteger(g.pad) || g.pad < 0 || g.pad >= g.k) throw new RangeError(`Conv: pad must be an integer in [0, k), got ${g.pad}`);
  const s = convShape(g);
  if (s.OH < 1 || s.OW < 1) throw new RangeError(`Conv: a ${g.k}×${g.k} kernel does not fit a ${g.H}×${g.W} input with padding ${g.pad}`);
  checkCount('Conv', 'output size', g.N * g.cout * s.OH * s.OW);
  checkCount('Conv', 'input size', g.N * g.cin * g.H * g.W);
  return s;
}

function constants(s: ConvShape, g: ConvGeometry, extra: Record<string, number>): Record<string, number> {
  return { N: s.N, CIN: s.cin, H: s.H, W: s.W, COUT: s.cout, OH: s.OH, OW: s.OW, K: s.k, STRIDE: g.stride, PAD: g.pad, ...extra, WG: CONV_WORKGROUP_SIZE };
}

const groupsFor = (n: number) => Math.ceil(n / CONV_WORKGROUP_SIZE);

export function recordConv(device: GPUDevice, encoder: GPUCommandEncoder, args: ConvArgs): void {
  const s = check(args);
  const outN = s.N * s.cout * s.OH * s.OW;
  checkBuffer('Conv', 'x', args.x, storageBytes(s.N * s.cin * s.H * s.W, args.xStorage));
  checkBuffer('Conv', 'w', args.w, storageBytes(s.cout * s.cin * s.k * s.k, args.wStorage));
  checkBuffer('Conv', 'y', args.y, storageBytes(outN, args.yStorage));
  if (args.bias) checkBuffer('Conv', 'bias', args.bias, 4 * s.cout);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Conv',
    code,
    entryPoint: 'forward',
    constants: constants(s, args, { X_KIND: STORAGE_CODE[args.xStorage], W_KIND: STORAGE_CODE[args.wStorage], OUT_KIND: STORAGE_CODE[args.yStorage], HAS_BIAS: Number(args.bias !== undefined) }),
  });
  recordPass(device, encoder, args.label ? `Conv.pass[${args.label}]` : 'Conv.pass', [
    { pipeline, buffers: { 0: args.x, 1: args.w, 2: args.y, 3: args.bias ?? args.w }, groups: groupsFor(Math.ceil(outN / 2)), label: 'Conv.bindGroup[forward]' },
  ], CNN_KERNEL_WORK.convForward(s, args.bias !== undefined));
}

export function recordConvBackwardInput(device: GPUDevice, encoder: GPUCommandEncoder, args: ConvBackwardInputArgs): void {
  const s = check(args);
  const inN = s.N * s.cin * s.H * s.W;
  checkBuffer('Conv', 'dy', args.dy, 4 * s.N * s.cout * s.OH * s.OW);
  checkBuffer('Conv', 'w', args.w, storageBytes(s.cout * s.cin * s.k * s.k, args.wStorage));
  checkBuffer('Conv', 'dx', args.dx, 4 * inN);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Conv',
    code,
    entryPoint: 'backward_input',
    constants: constants(s, args, { W_KIND: STORAGE_CODE[args.wStorage], ACCUMULATE: Number(args.accumulate) }),
  });
  recordPass(device, encoder, args.label ? `Conv.pass[${args.label}]` : 'Conv.pass[dx]', [
    { pipeline, buffers: { 1: args.w, 2: args.dx, 4: args.dy }, groups: groupsFor(inN), label: 'Conv.bindGroup[backward_input]' },
  ], CNN_KERNEL_WORK.convBackwardInput(s));
}

export function recordConvBackwardWeight(device: GPUDevice, encoder: GPUCommandEncoder, args: ConvBackwardWeightArgs): void {
  const s = check(args);
  const wN = s.cout * s.cin * s.k * s.k;
  checkBuffer('Conv', 'dy', args.dy, 4 * s.N * s.cout * s.OH * s.OW);
  checkBuffer('Conv', 'x', args.x, storageBytes(s.N * s.cin * s.H * s.W, args.xStorage));
  checkBuffer('Conv', 'dw', args.dw, 4 * wN);
  if (args.db) checkBuffer('Conv', 'db', args.db, 4 * s.cout);
  const dw = cachedPipeline(caches, device, { family: 'Conv', code, entryPoint: 'backward_weight', constants: constants(s, args, { X_KIND: STORAGE_CODE[args.xStorage] }) });
  const dispatches: Parameters<typeof recordPass>[3] = [{ pipeline: dw, buffers: { 0: args.x, 2: args.dw, 4: args.dy }, groups: groupsFor(wN), label: 'Conv.bindGroup[backward_weight]' }];
  if (args.db) {
    const db = cachedPipeline(caches, device, { family: 'Conv', code, entryPoint: 'backward_bias', constants: constants(s, args, {}) });
    dispatches.push({ pipeline: db, buffers: { 2: args.db, 4: args.dy }, groups: groupsFor(s.cout), label: 'Conv.bindGroup[backward_bias]' });
  }
  recordPass(device, encoder, args.label ? `Conv.pass[${args.label}]` : 'Conv.pass[dw]', dispatches, CNN_KERNEL_WORK.convBackwardWeight(s, args.db !== undefined));
}
