/**
 * LayerNorm family: y = (x − mean)/sqrt(var + eps) · gamma + beta over each row of `cols`
 * values, var the biased variance (PyTorch's nn.LayerNorm), and its backward. x and y in any
 * Storage (computed in f32); gamma, beta, mean, rstd and every gradient in f32. The WGSL is
 * shaders/layernorm.wgsl; shapes, storages and eps are override constants.
 *
 * Forward: one pass, two dispatches — per-row statistics (one workgroup per row, saving mean
 * and rstd for the backward: 8 B per row), then y one word per invocation so packed words
 * that straddle rows are written whole. Backward: one pass, two dispatches — dx (one
 * workgroup per row) and the column sums dGamma, dBeta (fixed order, no atomics).
 *
 * RMSNorm (Llama's): y = x·rstd·gamma, rstd = 1/sqrt(mean(x²) + eps), the same passes with
 * the rms_* entry points; it saves only rstd (4 B per row) and has no beta.
 */
import layerNormWgsl from '../../../shaders/layernorm.wgsl?raw';
import {
  STORAGE_CODE,
  cachedPipeline,
  checkBuffer,
  checkCount,
  recordPass,
  storageBytes,
  type KernelCache,
  type Storage,
} from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';
import { rowReduction, withRowReduction } from './rowreduce.ts';

/**
 * Workgroup sizes, each both the WG override and the dispatch divisor: `row` for the
 * one-workgroup-per-row kernels (a power of two, for the tree sums), `flat` for y (one word
 * per invocation), `columns` x × y for dGamma and dBeta (x columns per workgroup).
 */
export const LAYERNORM_WORKGROUP = { row: 128, flat: 256, columns: { x: 32, y: 8 } } as const;

export const LAYERNORM_DEFAULT_EPS = 1e-5;

export interface LayerNormArgs {
  /** rows×cols values of storage xStorage. */
  x: GPUBuffer;
  xStorage: Storage;
  rows: number;
  cols: number;
  /** f32, cols values each. */
  gamma: GPUBuffer;
  beta: GPUBuffer;
  /** rows×cols values of storage yStorage, overwritten. */
  y: GPUBuffer;
  yStorage: Storage;
  /** f32, rows values each, overwritten: saved for the backward. */
  mean: GPUBuffer;
  rstd: GPUBuffer;
  /** Added to the variance; finite and ≥ 0. Default 1e-5 (PyTorch's). */
  eps?: number;
  label?: string;
}

export interface LayerNormBackwardArgs {
  /** f32, rows×cols. */
  dy: GPUBuffer;
  /** The forward's input, as it stored it. */
  x: GPUBuffer;
  xStorage: Storage;
  /** f32, cols. */
  gamma: GPUBuffer;
  /** f32, rows each: what the forward wrote. */
  mean: GPUBuffer;
  rstd: GPUBuffer;
  rows: number;
  cols: number;
  /** f32, rows×cols, overwritten. */
  dx: GPUBuffer;
  /**
   * f32, cols each, overwritten (not accumulated); both absent for a frozen LayerNorm (the
   * base of a LoRA run): then only dx is computed, one dispatch.
   */
  dGamma?: GPUBuffer;
  dBeta?: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const CODE = { subgroup: withRowReduction(layerNormWgsl, 'subgroup'), workgroup: withRowReduction(layerNormWgsl, 'workgroup') } as const;

/** The family's WGSL for device: its row sums on subgroups where it has them (rowreduce.ts). */
function codeFor(device: GPUDevice): string {
  return CODE[rowReduction(device, LAYERNORM_WORKGROUP.row)];
}

/** Throws unless every written buffer is bound once: WebGPU forbids a writable buffer bound twice in a dispatch. */
function checkDistinct(written: Record<string, GPUBuffer>, read: Record<string, GPUBuffer>): void {
  const all = [...Object.entries(written), ...Object.entries(read)];
  for (const [name, buffer] of Object.entries(written)) {
    const other = all.find(([n, b]) => n !== name && b === buffer);
    if (other) throw new TypeError(`LayerNorm: ${name} and ${other[0]} are the same buffer '${buffer.label}'; ${name} must be a buffer of its own`);
  }
}

function checkShape(rows: number, cols: number): void {
  checkCount('LayerNorm', 'rows', rows);
  checkCount('LayerNorm', 'cols', cols);
  checkCount('LayerNorm', 'rows·cols', rows * cols);
}

function constants(rows: number, cols: number, xStorage: Storage, yStorage: Storage, eps: number): Record<string, number> {
  const wg = LAYERNORM_WORKGROUP;
  return {
    ROWS: rows,
    COLS: cols,
    X_KIND: STORAGE_CODE[xStorage],
    Y_KIND: STORAGE_CODE[yStorage],
    EPS: eps,
    WG: wg.row,
    WG_FLAT: wg.flat,
    WG_X: wg.columns.x,
    WG_Y: wg.columns.y,
  };
}

export function recordLayerNorm(device: GPUDevice, encoder: GPUCommandEncoder, args: LayerNormArgs): void {
  const { rows, cols } = args;
  const eps = args.eps ?? LAYERNORM_DEFAULT_EPS;
  checkShape(rows, cols);
  if (!Number.isFinite(eps) || eps < 0) throw new RangeError(`LayerNorm: eps must be finite and ≥ 0, got ${eps}`);
  checkBuffer('LayerNorm', 'x', args.x, storageBytes(rows * cols, args.xStorage));
  checkBuffer('LayerNorm', 'gamma', args.gamma, 4 * cols);
  checkBuffer('LayerNorm', 'beta', args.beta, 4 * cols);
  checkBuffer('LayerNorm', 'y', args.y, storageBytes(rows * cols, args.yStorage));
  checkBuffer('LayerNorm', 'mean', args.mean, 4 * rows);
  checkBuffer('LayerNorm', 'rstd', args.rstd, 4 * rows);
  checkDistinct({ y: args.y, mean: args.mean, rstd: args.rstd }, { x: args.x, gamma: args.gamma, beta: args.beta });
  const c = constants(rows, cols, args.xStorage, args.yStorage, eps);
  const stats = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'stats', constants: c });
  const normalize = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'normalize_words', constants: c });
  const words = Math.ceil((rows * cols) / 2);
  recordPass(device, encoder, args.label ?? 'LayerNorm.pass[forward]', [
    { pipeline: stats, buffers: { 0: args.x, 4: args.mean, 5: args.rstd }, groups: rows, label: 'LayerNorm.bindGroup[stats]' },
    {
      pipeline: normalize,
      buffers: { 0: args.x, 1: args.gamma, 2: args.beta, 3: args.y, 4: args.mean, 5: args.rstd },
      groups: Math.ceil(words / LAYERNORM_WORKGROUP.flat),
      label: 'LayerNorm.bindGroup[normalize]',
    },
  ], KERNEL_WORK.layerNorm(rows, cols));
}

export function recordLayerNormBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: LayerNormBackwardArgs): void {
  const { rows, cols } = args;
  checkShape(rows, cols);
  checkBuffer('LayerNorm', 'dy', args.dy, 4 * rows * cols);
  checkBuffer('LayerNorm', 'x', args.x, storageBytes(rows * cols, args.xStorage));
  checkBuffer('LayerNorm', 'gamma', args.gamma, 4 * cols);
  checkBuffer('LayerNorm', 'mean', args.mean, 4 * rows);
  checkBuffer('LayerNorm', 'rstd', args.rstd, 4 * rows);
  checkBuffer('LayerNorm', 'dx', args.dx, 4 * rows * cols);
  const { dGamma, dBeta } = args;
  if ((dGamma === undefined) !== (dBeta === undefined)) throw new TypeError('LayerNorm: give both dGamma and dBeta, or neither (frozen γ and β)');
  if (dGamma) checkBuffer('LayerNorm', 'dGamma', dGamma, 4 * cols);
  if (dBeta) checkBuffer('LayerNorm', 'dBeta', dBeta, 4 * cols);
  checkDistinct(
    { dx: args.dx, ...(dGamma && dBeta ? { dGamma, dBeta } : {}) },
    { dy: args.dy, x: args.x, gamma: args.gamma, mean: args.mean, rstd: args.rstd },
  );
  // eps is not used by the backward (rstd carries it): the default keeps one pipeline per shape.
  const c = constants(rows, cols, args.xStorage, 'f32', LAYERNORM_DEFAULT_EPS);
  const inputGrad = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'input_grad', constants: c });
  const dispatches: Parameters<typeof recordPass>[3] = [
    {
      pipeline: inputGrad,
      buffers: { 0: args.x, 1: args.gamma, 6: args.mean, 7: args.rstd, 8: args.dy, 9: args.dx },
      groups: rows,
      label: 'LayerNorm.bindGroup[inputGrad]',
    },
  ];
  if (dGamma && dBeta) {
    const paramGrad = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'param_grad', constants: c });
    dispatches.push({
      pipeline: paramGrad,
      buffers: { 0: args.x, 6: args.mean, 7: args.rstd, 8: args.dy, 10: dGamma, 11: dBeta },
      groups: Math.ceil(cols / LAYERNORM_WORKGROUP.columns.x),
      label: 'LayerNorm.bindGroup[paramGrad]',
    });
  }
  recordPass(device, encoder, args.label ?? 'LayerNorm.pass[backward]', dispatches, KERNEL_WORK.layerNormBackward(rows, cols, dGamma !== undefined));
}

/** Llama's rms_norm_eps default. */
export const RMSNORM_DEFAULT_EPS = 1e-5;

export type RmsNormArgs = Omit<LayerNormArgs, 'beta' | 'mean'>;
/** Without dGamma (a frozen gain under LoRA) only the input's gradient: one dispatch. */
export type RmsNormBackwardArgs = Omit<LayerNormBackwardArgs, 'mean' | 'dBeta' | 'dGamma'> & { dGamma?: GPUBuffer };

export function recordRmsNorm(device: GPUDevice, encoder: GPUCommandEncoder, args: RmsNormArgs): void {
  const { rows, cols } = args;
  const eps = args.eps ?? RMSNORM_DEFAULT_EPS;
  checkShape(rows, cols);
  if (!Number.isFinite(eps) || eps < 0) throw new RangeError(`LayerNorm: eps must be finite and ≥ 0, got ${eps}`);
  checkBuffer('LayerNorm', 'x', args.x, storageBytes(rows * cols, args.xStorage));
  checkBuffer('LayerNorm', 'gamma', args.gamma, 4 * cols);
  checkBuffer('LayerNorm', 'y', args.y, storageBytes(rows * cols, args.yStorage));
  checkBuffer('LayerNorm', 'rstd', args.rstd, 4 * rows);
  checkDistinct({ y: args.y, rstd: args.rstd }, { x: args.x, gamma: args.gamma });
  const c = constants(rows, cols, args.xStorage, args.yStorage, eps);
  const stats = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'rms_stats', constants: c });
  const normalize = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'rms_normalize_words', constants: c });
  const words = Math.ceil((rows * cols) / 2);
  recordPass(device, encoder, args.label ?? 'LayerNorm.pass[rmsForward]', [
    { pipeline: stats, buffers: { 0: args.x, 5: args.rstd }, groups: rows, label: 'LayerNorm.bindGroup[rmsStats]' },
    {
      pipeline: normalize,
      buffers: { 0: args.x, 1: args.gamma, 3: args.y, 5: args.rstd },
      groups: Math.ceil(words / LAYERNORM_WORKGROUP.flat),
      label: 'LayerNorm.bindGroup[rmsNormalize]',
    },
  ], KERNEL_WORK.rmsNorm(rows, cols));
}

export function recordRmsNormBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: RmsNormBackwardArgs): void {
  const { rows, cols } = args;
  checkShape(rows, cols);
  checkBuffer('LayerNorm', 'dy', args.dy, 4 * rows * cols);
  checkBuffer('LayerNorm', 'x', args.x, storageBytes(rows * cols, args.xStorage));
  checkBuffer('LayerNorm', 'gamma', args.gamma, 4 * cols);
  checkBuffer('LayerNorm', 'rstd', args.rstd, 4 * rows);
  checkBuffer('LayerNorm', 'dx', args.dx, 4 * rows * cols);
  const { dGamma } = args;
  if (dGamma) checkBuffer('LayerNorm', 'dGamma', dGamma, 4 * cols);
  checkDistinct({ dx: args.dx, ...(dGamma ? { dGamma } : {}) }, { dy: args.dy, x: args.x, gamma: args.gamma, rstd: args.rstd });
  const c = constants(rows, cols, args.xStorage, 'f32', RMSNORM_DEFAULT_EPS);
  const inputGrad = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'rms_input_grad', constants: c });
  const dispatches: Parameters<typeof recordPass>[3] = [
    { pipeline: inputGrad, buffers: { 0: args.x, 1: args.gamma, 7: args.rstd, 8: args.dy, 9: args.dx }, groups: rows, label: 'LayerNorm.bindGroup[rmsInputGrad]' },
  ];
  if (dGamma) {
    const paramGrad = cachedPipeline(caches, device, { family: 'LayerNorm', code: codeFor(device), entryPoint: 'rms_param_grad', constants: c });
    dispatches.push({ pipeline: paramGrad, buffers: { 0: args.x, 7: args.rstd, 8: args.dy, 10: dGamma }, groups: Math.ceil(cols / LAYERNORM_WORKGROUP.columns.x), label: 'LayerNorm.bindGroup[rmsParamGrad]' });
  }
  recordPass(device, encoder, args.label ?? 'LayerNorm.pass[rmsBackward]', dispatches, KERNEL_WORK.rmsNormBackward(rows, cols, dGamma !== undefined));
}
