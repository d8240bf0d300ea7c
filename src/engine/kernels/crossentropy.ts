/**
 * Cross-entropy family: the language-model loss, mean over rows of −log softmax(logits[r])
 * at targets[r], and dLogits = (softmax − onehot)/rows · scale, with scale the f32 in word 0
 * of lossScale (the optimizer's lossState, or a buffer holding 1.0 for fp32). Logits in any
 * Storage, computed in f32 with the row max subtracted (stable for any logit size); the loss
 * and dLogits are f32. The WGSL is shaders/crossentropy.wgsl; shapes and the logits storage
 * are override constants.
 *
 * One pass, two dispatches: dLogits and the row losses on min(rows, CROSS_ENTROPY_PARTIALS)
 * workgroups, each taking every so-many-th row and leaving the sum of its rows' losses in
 * the loss buffer after the mean (a fixed workspace, whatever the rows); then one workgroup
 * sums those partials in a fixed tree. A deterministic mean with no float atomics, and the
 * logits are read by the first dispatch only (an earlier design read them all again on one
 * workgroup, serially over rows).
 *
 * A target ≥ vocab (e.g. 0xffffffff for padding) contributes 0 to the loss and gets a zero
 * dLogits row; the mean still divides by rows. Validate targets on the CPU.
 */
import crossEntropyWgsl from '../../../shaders/crossentropy.wgsl?raw';
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
import { CROSS_ENTROPY_PARTIALS } from '../../estimate/vramlab.ts';
import { rowReduction, withRowReduction } from './rowreduce.ts';

export { CROSS_ENTROPY_PARTIALS };

/** Bytes of the loss buffer: the mean, then one partial sum per workgroup of the first dispatch. */
export const CROSS_ENTROPY_LOSS_BYTES = 4 * (1 + CROSS_ENTROPY_PARTIALS);

/** Invocations per workgroup of both dispatches: a power of two, for the tree reductions. */
export const CROSS_ENTROPY_WORKGROUP_SIZE = 256;

export interface CrossEntropyArgs {
  /** rows×vocab values of storage logitsStorage, row-major. */
  logits: GPUBuffer;
  logitsStorage: Storage;
  /** u32, rows values. */
  targets: GPUBuffer;
  rows: number;
  vocab: number;
  /** f32, CROSS_ENTROPY_LOSS_BYTES: the mean loss (unscaled) in word 0, then partial sums. */
  loss: GPUBuffer;
  /** f32, rows×vocab, overwritten: (softmax − onehot)/rows · scale. */
  dLogits: GPUBuffer;
  /** f32 scale in word 0. */
  lossScale: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const CODE = { subgroup: withRowReduction(crossEntropyWgsl, 'subgroup'), workgroup: withRowReduction(crossEntropyWgsl, 'workgroup') } as const;

export function recordCrossEntropy(device: GPUDevice, encoder: GPUCommandEncoder, args: CrossEntropyArgs): void {
  const { rows, vocab } = args;
  const wg = CROSS_ENTROPY_WORKGROUP_SIZE;
  if (!(wg > 0 && (wg & (wg - 1)) === 0)) throw new Error('CrossEntropy: CROSS_ENTROPY_WORKGROUP_SIZE must be a power of two');
  checkCount('CrossEntropy', 'rows', rows);
  checkCount('CrossEntropy', 'vocab', vocab);
  checkCount('CrossEntropy', 'rows·vocab', rows * vocab);
  checkBuffer('CrossEntropy', 'logits', args.logits, storageBytes(rows * vocab, args.logitsStorage));
  checkBuffer('CrossEntropy', 'targets', args.targets, 4 * rows);
  checkBuffer('CrossEntropy', 'loss', args.loss, CROSS_ENTROPY_LOSS_BYTES);
  checkBuffer('CrossEntropy', 'dLogits', args.dLogits, 4 * rows * vocab);
  checkBuffer('CrossEntropy', 'lossScale', args.lossScale, 4);
  const inputs = [args.logits, args.targets, args.lossScale];
  if (args.loss === args.dLogits || inputs.includes(args.loss) || inputs.includes(args.dLogits)) {
    throw new TypeError('CrossEntropy: loss and dLogits must be two buffers of their own, distinct from logits, targets and lossScale');
  }
  const groups = Math.min(rows, CROSS_ENTROPY_PARTIALS);
  // Row max and Σexp on subgroups where the device has them (rowreduce.ts).
  const code = CODE[rowReduction(device, wg)];
  const constants = { ROWS: rows, VOCAB: vocab, LOGITS_KIND: STORAGE_CODE[args.logitsStorage], GROUPS: groups, WG: wg };
  const value = cachedPipeline(caches, device, { family: 'CrossEntropy', code, entryPoint: 'value', constants });
  const grad = cachedPipeline(caches, device, { family: 'CrossEntropy', code, entryPoint: 'grad', constants });
  recordPass(device, encoder, args.label ?? 'CrossEntropy.pass', [
    {
      pipeline: grad,
      buffers: { 0: args.logits, 1: args.targets, 2: args.loss, 3: args.dLogits, 4: args.lossScale },
      groups,
      label: 'CrossEntropy.bindGroup[grad]',
    },
    { pipeline: value, buffers: { 2: args.loss }, groups: 1, label: 'CrossEntropy.bindGroup[value]' },
  ], KERNEL_WORK.crossEntropy(rows, vocab));
}
