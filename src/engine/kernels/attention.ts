/**
 * Attention family: causal multi-head self-attention of a GPT-style decoder, scale
 * 1/√headDim, query i attending to keys 0 … i. Two implementations of the same maths, so the
 * lab can show what each keeps alive for the backward:
 *   eager — materialises P = softmax(QKᵀ·scale) per head, B×heads×s×s in probsStorage, and
 *           the backward reads it: the s² tensor of PyTorch's eager attention.
 *   fused — FlashAttention-style tiled online softmax in workgroup memory; keeps only the
 *           logsumexp of each query row (f32, B×heads×s) and recomputes P in the backward.
 * The WGSL is shaders/attention.wgsl (layouts and the role of each entry point there); shapes,
 * storages, scale, tile and workgroup sizes are override constants, all in the cache key.
 *
 * Layouts (rows = B·s, h = heads·headDim, row-major):
 *   qkv  rows × 3h, columns [0, h) q, [h, 2h) k, [2h, 3h) v; head j is columns
 *        j·headDim … (j + 1)·headDim − 1 of each, so the QKV projection is one matmul.
 *   out  rows × h in the same head layout, so the output projection is one matmul.
 *   dOut f32 rows × h; dQkv f32 rows × 3h, every element overwritten.
 *
 * Grouped-query attention (Llama 2 70B, Llama 3, Mistral, Qwen2): with kvHeads < heads, qkv
 * rows are h + 2·kvHeads·headDim wide, [q (heads) | k (kvHeads) | v (kvHeads)], query head j
 * reading kv head j / (heads / kvHeads); dQkv has the same layout, dK and dV summed over the
 * query heads of each group. kvHeads = heads (the default) is the layout above.
 *
 * The backward runs three dispatches that each own what they write (no float atomics): dQ
 * per query row, then dK and dV per key row. D = rowsum(dP ⊙ P) (eager; rowsum(dO ⊙ O) fused)
 * travels from the first to the second in dQkv's own dV slots, overwritten by the third: the
 * kernels create no buffers, and the contract has no workspace.
 *
 * The workgroup-wide reductions (each eager row's max and Σexp, the backward's D) are rowMax2 and
 * rowSum of rowreduce.ts: subgroup operations where the device has the `subgroups` feature,
 * else a tree over workgroup memory; both combine the lanes in a fixed order (deterministic).
 */
import attentionWgsl from '../../../shaders/attention.wgsl?raw';
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

export interface AttentionShape {
  /** Sequences in the batch. */
  B: number;
  /** Sequence length (tokens per sequence). */
  s: number;
  heads: number;
  headDim: number;
  /** Key/value heads (grouped-query attention); divides heads; default heads. */
  kvHeads?: number;
}

export interface AttentionEagerArgs extends AttentionShape {
  qkv: GPUBuffer;
  qkvStorage: Storage;
  /** B×heads×s×s, query-major; written, 0 above the diagonal. */
  probs: GPUBuffer;
  probsStorage: Storage;
  out: GPUBuffer;
  outStorage: Storage;
  label?: string;
}

export interface AttentionEagerBackwardArgs extends AttentionShape {
  qkv: GPUBuffer;
  qkvStorage: Storage;
  /** As the forward wrote it. */
  probs: GPUBuffer;
  probsStorage: Storage;
  /** f32 rows×h. */
  dOut: GPUBuffer;
  /** f32 rows×3h, overwritten. */
  dQkv: GPUBuffer;
  label?: string;
}

export interface AttentionFusedArgs extends AttentionShape {
  qkv: GPUBuffer;
  qkvStorage: Storage;
  /** A 16-bit out needs an even headDim (each packed word within one head). */
  out: GPUBuffer;
  outStorage: Storage;
  /** f32 B·heads·s: logsumexp of each query row's scaled scores, saved for the backward. */
  lse: GPUBuffer;
  /** Query rows and keys per tile; default fusedTile(headDim) for the device's workgroup memory. */
  tile?: number;
  label?: string;
}

export interface AttentionFusedBackwardArgs extends AttentionShape {
  qkv: GPUBuffer;
  qkvStorage: Storage;
  /** As the forward wrote it (D = rowsum(dO ⊙ O) reads it). */
  out: GPUBuffer;
  outStorage: Storage;
  lse: GPUBuffer;
  /** f32 rows×h. */
  dOut: GPUBuffer;
  /** f32 rows×3h, overwritten. */
  dQkv: GPUBuffer;
  label?: string;
}

/** Invocations per workgroup of every entry point: the WG override and the dispatch counts; a power of two, for the row reductions' tree. */
export const ATTENTION_WORKGROUP_SIZE = 64;
/** Largest fused tile (query rows and keys per tile); smaller when headDim needs the memory. */
export const FUSED_TILE_MAX = 32;

/** Workgroup bytes of fused_forward: q, k, v and accumulator tiles (tile×headDim f32 each), tile² scores, 3 row stats. */
export function fusedWorkgroupBytes(tile: number, headDim: number): number {
  return 4 * (4 * tile * headDim + tile * tile + 3 * tile);
}

/** The largest power-of-two tile ≤ FUSED_TILE_MAX whose workgroup memory fits `limitBytes`. */
export function fusedTile(headDim: number, limitBytes = 16384): number {
  for (let t = FUSED_TILE_MAX; t >= 1; t /= 2) if (fusedWorkgroupBytes(t, headDim) <= limitBytes) return t;
  throw new RangeError(`Attention: headDim ${headDim} needs ${fusedWorkgroupBytes(1, headDim)} B of workgroup memory even with 1-row tiles; the limit is ${limitBytes} B`);
}

/** Bytes of the eager probs tensor (B×heads×s×s in storage s), for the planner. */
export function eagerProbsBytes(shape: AttentionShape, s: Storage): number {
  return storageBytes(shape.B * shape.heads * shape.s * shape.s, s);
}

/** Bytes of the fused row statistics (f32 logsumexp, B×heads×s), for the planner. */
export function fusedLseBytes(shape: AttentionShape): number {
  return 4 * shape.B * shape.heads * shape.s;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const CODE = { subgroup: withRowReduction(attentionWgsl, 'subgroup'), workgroup: withRowReduction(attentionWgsl, 'workgroup') } as const;

/** Values in a qkv row: heads query heads and kvHeads key and value heads. */
export function qkvWidth(shape: AttentionShape): number {
  return (shape.heads + 2 * (shape.kvHeads ?? shape.heads)) * shape.headDim;
}

/** Validates the shape and returns rows (B·s), h (heads·headDim) and w (qkv row width). */
function checkShape(shape: AttentionShape): { rows: number; h: number; w: number } {
  checkCount('Attention', 'B', shape.B);
  checkCount('Attention', 's', shape.s);
  checkCount('Attention', 'heads', shape.heads);
  checkCount('Attention', 'headDim', shape.headDim);
  const kv = shape.kvHeads ?? shape.heads;
  checkCount('Attention', 'kvHeads', kv);
  if (shape.heads % kv !== 0) throw new RangeError(`Attention: kvHeads (${kv}) must divide heads (${shape.heads})`);
  if (shape.heads / kv > shape.headDim) throw new RangeError(`Attention: heads / kvHeads (${shape.heads / kv}) must be at most headDim (${shape.headDim}): the backward parks one value per query head in a kv head's row`);
  const rows = shape.B * shape.s;
  const h = shape.heads * shape.headDim;
  const w = qkvWidth(shape);
  // Flat indices are u32: every tensor's element count must stay below 2^31.
  checkCount('Attention', 'B·s·qkvWidth', rows * w);
  checkCount('Attention', 'B·heads·s²', shape.B * shape.heads * shape.s * shape.s);
  return { rows, h, w };
}

interface Kinds {
  qkv: Storage;
  probs: Storage;
  out: Storage;
  fused: boolean;
}

function constants(shape: AttentionShape, kinds: Kinds): Record<string, number> {
  return {
    BATCH: shape.B,
    SEQ: shape.s,
    HEADS: shape.heads,
    KV_HEADS: shape.kvHeads ?? shape.heads,
    HEAD_DIM: shape.headDim,
    SCALE: 1 / Math.sqrt(shape.headDim),
    QKV_KIND: STORAGE_CODE[kinds.qkv],
    PROBS_KIND: STORAGE_CODE[kinds.probs],
    OUT_KIND: STORAGE_CODE[kinds.out],
    FUSED: Number(kinds.fused),
    WG: ATTENTION_WORKGROUP_SIZE,
  };
}

function pipeline(device: GPUDevice, entryPoint: string, c: Record<string, number>): GPUComputePipeline {
  // eager_probs' row max and sum and backward_q's D on subgroups where the device has them (rowreduce.ts).
  const code = CODE[rowReduction(device, ATTENTION_WORKGROUP_SIZE)];
  return cachedPipeline(caches, device, { family: 'Attention', code, entryPoint, constants: c });
}

function passLabel(member: string, label: string | undefined): string {
  return label ? `Attention.${member}[${label}]` : `Attention.${member}`;
}

export function recordAttentionEager(device: GPUDevice, encoder: GPUCommandEncoder, a: AttentionEagerArgs): void {
  const { rows, h, w } = checkShape(a);
  const probsCount = a.B * a.heads * a.s * a.s;
  checkBuffer('Attention', 'qkv', a.qkv, storageBytes(rows * w, a.qkvStorage));
  checkBuffer('Attention', 'probs', a.probs, storageBytes(probsCount, a.probsStorage));
  checkBuffer('Attention', 'out', a.out, storageBytes(rows * h, a.outStorage));
  const c = constants(a, { qkv: a.qkvStorage, probs: a.probsStorage, out: a.outStorage, fused: false });
  const words = Math.ceil((rows * h) / 2);
  recordPass(device, encoder, passLabel('eager', a.label), [
    // One workgroup per pair of query rows (B·heads·s rows).
    { pipeline: pipeline(device, 'eager_probs', c), buffers: { 0: a.qkv, 1: a.probs }, groups: Math.ceil((a.B * a.heads * a.s) / 2), label: 'Attention.bindGroup[eager_probs]' },
    // One invocation per out word.
    { pipeline: pipeline(device, 'eager_out', c), buffers: { 0: a.qkv, 2: a.probs, 3: a.out }, groups: Math.ceil(words / ATTENTION_WORKGROUP_SIZE), label: 'Attention.bindGroup[eager_out]' },
  ], KERNEL_WORK.attention(a.B, a.s, a.heads, a.headDim, false));
}

/** The three backward dispatches; the roles the unused kind leaves empty get a read-only stand-in (never read). */
function recordBackward(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  shape: AttentionShape,
  kinds: Kinds,
  buffers: { qkv: GPUBuffer; probs: GPUBuffer; out: GPUBuffer; lse: GPUBuffer; dOut: GPUBuffer; dQkv: GPUBuffer },
  label: string,
): void {
  const c = constants(shape, kinds);
  const keyRows = { 0: buffers.qkv, 2: buffers.probs, 6: buffers.lse, 7: buffers.dOut, 8: buffers.dQkv };
  // Only backward_q reads out (for the fused D); 'auto' layouts hold the bindings an entry point uses.
  const queryRows = { ...keyRows, 4: buffers.out };
  // One workgroup per query row (backward_q: B·heads·s) or key row of a kv head (backward_k, backward_v: B·kvHeads·s).
  const queryGroups = shape.B * shape.heads * shape.s;
  const keyGroups = shape.B * (shape.kvHeads ?? shape.heads) * shape.s;
  recordPass(
    device,
    encoder,
    label,
    (['backward_q', 'backward_k', 'backward_v'] as const).map((entryPoint) => ({
      pipeline: pipeline(device, entryPoint, c),
      buffers: entryPoint === 'backward_q' ? queryRows : keyRows,
      groups: entryPoint === 'backward_q' ? queryGroups : keyGroups,
      label: `Attention.bindGroup[${entryPoint}]`,
    })),
    KERNEL_WORK.attentionBackward(shape.B, shape.s, shape.heads, shape.headDim, kinds.fused),
  );
}

export function recordAttentionEagerBackward(device: GPUDevice, encoder: GPUCommandEncoder, a: AttentionEagerBackwardArgs): void {
  const { rows, h, w } = checkShape(a);
  checkBuffer('Attention', 'qkv', a.qkv, storageBytes(rows * w, a.qkvStorage));
  checkBuffer('Attention', 'probs', a.probs, storageBytes(a.B * a.heads * a.s * a.s, a.probsStorage));
  checkBuffer('Attention', 'dOut', a.dOut, 4 * rows * h);
  checkBuffer('Attention', 'dQkv', a.dQkv, 4 * rows * w);
  recordBackward(
    device,
    encoder,
    a,
    { qkv: a.qkvStorage, probs: a.probsStorage, out: 'f32', fused: false },
    // out and lse are not read by the eager path: dOut stands in.
    { qkv: a.qkv, probs: a.probs, out: a.dOut, lse: a.dOut, dOut: a.dOut, dQkv: a.dQkv },
    passLabel('eagerBackward', a.label),
  );
}

export function recordAttentionFused(device: GPUDevice, encoder: GPUCommandEncoder, a: AttentionFusedArgs): void {
  const { rows, h, w } = checkShape(a);
  if (a.outStorage !== 'f32' && a.headDim % 2 !== 0) {
    throw new RangeError(`Attention: a ${a.outStorage} out needs an even headDim (each packed word within one head), got ${a.headDim}; use f32 out or the eager attention`);
  }
  checkBuffer('Attention', 'qkv', a.qkv, storageBytes(rows * w, a.qkvStorage));
  checkBuffer('Attention', 'out', a.out, storageBytes(rows * h, a.outStorage));
  checkBuffer('Attention', 'lse', a.lse, fusedLseBytes(a));
  const limit = device.limits.maxComputeWorkgroupStorageSize;
  const tile = a.tile ?? fusedTile(a.headDim, limit);
  checkCount('Attention', 'tile', tile);
  if (fusedWorkgroupBytes(tile, a.headDim) > limit) {
    throw new RangeError(`Attention: a fused tile of ${tile} with headDim ${a.headDim} needs ${fusedWorkgroupBytes(tile, a.headDim)} B of workgroup memory, over the device's ${limit} B; use a smaller tile`);
  }
  const c = { ...constants(a, { qkv: a.qkvStorage, probs: 'f32', out: a.outStorage, fused: true }), TILE: tile };
  recordPass(device, encoder, passLabel('fused', a.label), [
    // One workgroup per tile of query rows of each (sequence, head).
    { pipeline: pipeline(device, 'fused_forward', c), buffers: { 0: a.qkv, 3: a.out, 5: a.lse }, groups: a.B * a.heads * Math.ceil(a.s / tile), label: 'Attention.bindGroup[fused_forward]' },
  ], KERNEL_WORK.attention(a.B, a.s, a.heads, a.headDim, true));
}

export function recordAttentionFusedBackward(device: GPUDevice, encoder: GPUCommandEncoder, a: AttentionFusedBackwardArgs): void {
  const { rows, h, w } = checkShape(a);
  checkBuffer('Attention', 'qkv', a.qkv, storageBytes(rows * w, a.qkvStorage));
  checkBuffer('Attention', 'out', a.out, storageBytes(rows * h, a.outStorage));
  checkBuffer('Attention', 'lse', a.lse, fusedLseBytes(a));
  checkBuffer('Attention', 'dOut', a.dOut, 4 * rows * h);
  checkBuffer('Attention', 'dQkv', a.dQkv, 4 * rows * w);
  recordBackward(
    device,
    encoder,
    a,
    { qkv: a.qkvStorage, probs: 'f32', out: a.outStorage, fused: true },
    // probs is not read by the fused path: lse stands in.
    { qkv: a.qkv, probs: a.lse, out: a.out, lse: a.lse, dOut: a.dOut, dQkv: a.dQkv },
    passLabel('fusedBackward', a.label),
  );
}
