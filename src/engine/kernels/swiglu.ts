/**
 * Gated-activation family: SwiGLU, act = silu(gate) ⊙ up (Llama's MLP between the fused
 * gate/up projection and the down projection), and its backward. The WGSL is
 * shaders/swiglu.wgsl; shapes and storages are override constants.
 *
 * Layout: gu rows × 2·inner, each row [gate | up] (one matmul by [W_gate | W_up]); act
 * rows × inner; dAct f32 rows × inner; dGu f32 rows × 2·inner, every element overwritten.
 * Forward: one invocation per act word; backward: one per dGu element.
 */
import swigluWgsl from '../../../shaders/swiglu.wgsl?raw';
import { STORAGE_CODE, cachedPipeline, checkBuffer, checkCount, recordPass, storageBytes, withStorageWgsl, type KernelCache, type Storage } from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

export const SWIGLU_WORKGROUP_SIZE = 256;

export interface SwigluArgs {
  gu: GPUBuffer;
  guStorage: Storage;
  act: GPUBuffer;
  actStorage: Storage;
  rows: number;
  inner: number;
  label?: string;
}

export interface SwigluBackwardArgs {
  gu: GPUBuffer;
  guStorage: Storage;
  dAct: GPUBuffer;
  dGu: GPUBuffer;
  rows: number;
  inner: number;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(swigluWgsl);

function checkShape(rows: number, inner: number): void {
  checkCount('Swiglu', 'rows', rows);
  checkCount('Swiglu', 'inner', inner);
  checkCount('Swiglu', 'rows·2·inner', rows * 2 * inner);
}

function pipeline(device: GPUDevice, entryPoint: string, rows: number, inner: number, gu: Storage, act: Storage): GPUComputePipeline {
  return cachedPipeline(caches, device, {
    family: 'Swiglu',
    code,
    entryPoint,
    constants: { ROWS: rows, INNER: inner, GU_KIND: STORAGE_CODE[gu], ACT_KIND: STORAGE_CODE[act], WG: SWIGLU_WORKGROUP_SIZE },
  });
}

export function recordSwiglu(device: GPUDevice, encoder: GPUCommandEncoder, a: SwigluArgs): void {
  checkShape(a.rows, a.inner);
  checkBuffer('Swiglu', 'gu', a.gu, storageBytes(a.rows * 2 * a.inner, a.guStorage));
  checkBuffer('Swiglu', 'act', a.act, storageBytes(a.rows * a.inner, a.actStorage));
  if (a.gu === a.act) throw new TypeError(`Swiglu: act '${a.act.label}' must be a buffer other than gu`);
  const n = a.rows * a.inner;
  recordPass(device, encoder, a.label ?? 'Swiglu.pass[forward]', [
    { pipeline: pipeline(device, 'forward', a.rows, a.inner, a.guStorage, a.actStorage), buffers: { 0: a.gu, 1: a.act }, groups: Math.ceil(Math.ceil(n / 2) / SWIGLU_WORKGROUP_SIZE), label: 'Swiglu.bindGroup[forward]' },
  ], KERNEL_WORK.swiglu(n));
}

export function recordSwigluBackward(device: GPUDevice, encoder: GPUCommandEncoder, a: SwigluBackwardArgs): void {
  checkShape(a.rows, a.inner);
  checkBuffer('Swiglu', 'gu', a.gu, storageBytes(a.rows * 2 * a.inner, a.guStorage));
  checkBuffer('Swiglu', 'dAct', a.dAct, 4 * a.rows * a.inner);
  checkBuffer('Swiglu', 'dGu', a.dGu, 4 * a.rows * 2 * a.inner);
  if (a.dGu === a.gu || a.dGu === a.dAct) throw new TypeError(`Swiglu: dGu '${a.dGu.label}' must be a buffer of its own`);
  recordPass(device, encoder, a.label ?? 'Swiglu.pass[backward]', [
    { pipeline: pipeline(device, 'backward', a.rows, a.inner, a.guStorage, 'f32'), buffers: { 0: a.gu, 2: a.dAct, 3: a.dGu }, groups: Math.ceil((a.rows * 2 * a.inner) / SWIGLU_WORKGROUP_SIZE), label: 'Swiglu.bindGroup[backward]' },
  ], KERNEL_WORK.swigluBackward(a.rows * a.inner));
}
