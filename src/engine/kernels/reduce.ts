/**
 * Reduce family: column sums of an f32 matrix, out[j] = Σ_i x[i, j] — the bias gradient
 * db = Σ over rows of dY. The WGSL is shaders/reduce.wgsl; rows and cols are override
 * constants. f32 in and out: dY reaches the bias in f32 whatever the activations' storage.
 */
import reduceWgsl from '../../../shaders/reduce.wgsl?raw';
import { cachedPipeline, checkBuffer, checkCount, recordPass, type KernelCache } from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

/** Columns per workgroup (contiguous loads) and lanes per column; the dispatch uses the first. */
export const COLUMN_SUM_WORKGROUP = { x: 32, y: 8 } as const;

export interface ColumnSumArgs {
  /** f32, rows×cols, row-major. */
  x: GPUBuffer;
  rows: number;
  cols: number;
  /** f32, cols values; overwritten. */
  out: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();

export function recordColumnSum(device: GPUDevice, encoder: GPUCommandEncoder, args: ColumnSumArgs): void {
  const { rows, cols } = args;
  checkCount('Reduce', 'rows', rows);
  checkCount('Reduce', 'cols', cols);
  checkCount('Reduce', 'rows·cols', rows * cols);
  checkBuffer('Reduce', 'x', args.x, 4 * rows * cols);
  checkBuffer('Reduce', 'out', args.out, 4 * cols);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Reduce',
    code: reduceWgsl,
    entryPoint: 'column_sum',
    constants: { ROWS: rows, COLS: cols, WG_X: COLUMN_SUM_WORKGROUP.x, WG_Y: COLUMN_SUM_WORKGROUP.y },
  });
  recordPass(device, encoder, args.label ?? 'Reduce.pass', [
    { pipeline, buffers: { 0: args.x, 1: args.out }, groups: Math.ceil(cols / COLUMN_SUM_WORKGROUP.x), label: 'Reduce.bindGroup' },
  ], KERNEL_WORK.columnSum(rows, cols));
}
