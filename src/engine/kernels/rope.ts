/**
 * Rotary family: rotary position embeddings of a Llama-style decoder (Hugging Face's
 * rotate_half convention, base theta), applied out of place to the q and k heads of a fused
 * qkv row (the v columns are copied), and the same kernel turned the other way for the
 * backward (a rotation's transpose is its inverse). The WGSL is shaders/rope.wgsl; shapes,
 * storages, theta and the direction are override constants, all in the cache key.
 *
 * Layout: x and y rows × width, row r at position r mod seq; columns [0, rotCols) are
 * rotated head by head (headDim lanes, lane i paired with i + headDim/2), the rest copied.
 * One invocation per output word: ceil(ceil(rows·width/2) / ROPE_WORKGROUP_SIZE) workgroups.
 */
import ropeWgsl from '../../../shaders/rope.wgsl?raw';
import { STORAGE_CODE, cachedPipeline, checkBuffer, checkCount, recordPass, storageBytes, withStorageWgsl, type KernelCache, type Storage } from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

export const ROPE_WORKGROUP_SIZE = 256;
/** Llama 2's rope_theta (Llama 3 uses 500000). */
export const ROPE_DEFAULT_THETA = 10000;

export interface RopeArgs {
  /** rows×width values of storage xStorage. */
  x: GPUBuffer;
  xStorage: Storage;
  /** rows×width values of storage yStorage, overwritten; not x. */
  y: GPUBuffer;
  yStorage: Storage;
  rows: number;
  seq: number;
  width: number;
  /** Leading columns rotated: a multiple of headDim, at most width. */
  rotCols: number;
  /** Even. */
  headDim: number;
  theta?: number;
  /** true: rotate by −θ (the backward of the forward rotation). */
  inverse?: boolean;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(ropeWgsl);

export function recordRope(device: GPUDevice, encoder: GPUCommandEncoder, a: RopeArgs): void {
  const theta = a.theta ?? ROPE_DEFAULT_THETA;
  for (const [name, n] of [['rows', a.rows], ['seq', a.seq], ['width', a.width], ['headDim', a.headDim], ['rows·width', a.rows * a.width]] as const) checkCount('Rope', name, n);
  if (a.headDim % 2 !== 0) throw new RangeError(`Rope: headDim must be even (lanes pair with lanes headDim/2 away), got ${a.headDim}`);
  if (!Number.isInteger(a.rotCols) || a.rotCols < 0 || a.rotCols > a.width || a.rotCols % a.headDim !== 0) {
    throw new RangeError(`Rope: rotCols (${a.rotCols}) must be a multiple of headDim (${a.headDim}) between 0 and width (${a.width})`);
  }
  if (!(theta > 0) || !Number.isFinite(theta)) throw new RangeError(`Rope: theta must be a finite number > 0, got ${theta}`);
  checkBuffer('Rope', 'x', a.x, storageBytes(a.rows * a.width, a.xStorage));
  checkBuffer('Rope', 'y', a.y, storageBytes(a.rows * a.width, a.yStorage));
  if (a.x === a.y) throw new TypeError(`Rope: y '${a.y.label}' must be a buffer other than x (no in-place rotation)`);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Rope',
    code,
    entryPoint: 'rope',
    constants: {
      ROWS: a.rows,
      SEQ: a.seq,
      WIDTH: a.width,
      ROT_COLS: a.rotCols,
      HEAD_DIM: a.headDim,
      THETA: theta,
      SIGN: a.inverse ? -1 : 1,
      X_KIND: STORAGE_CODE[a.xStorage],
      Y_KIND: STORAGE_CODE[a.yStorage],
      WG: ROPE_WORKGROUP_SIZE,
    },
  });
  const words = Math.ceil((a.rows * a.width) / 2);
  recordPass(device, encoder, a.label ?? `Rope.pass[${a.inverse ? 'backward' : 'forward'}]`, [
    { pipeline, buffers: { 0: a.x, 1: a.y }, groups: Math.ceil(words / ROPE_WORKGROUP_SIZE), label: 'Rope.bindGroup[rope]' },
  ], KERNEL_WORK.rope(a.rows * a.rotCols));
}
