/**
 * Embedding family: out[r] = tokenTable[ids[r]] + posTable[r mod seq], the input of a
 * GPT-style decoder (rows = batch·seq tokens, ids u32, tables f32 with dim values a row), and
 * its backward into both tables. The WGSL is shaders/embedding.wgsl; shapes, the out storage
 * and the accumulate flag are override constants.
 *
 * Forward: one invocation per output word, so packed words that straddle rows are written
 * whole. Backward: no float atomics — one invocation per table element loops over the tokens
 * in order (deterministic). The token gradient costs vocab·dim·rows id compares: fine for the
 * lab's models, the price of determinism without a sort. An id ≥ vocab reads as a zero token
 * row and gets no gradient: validate ids on the CPU.
 */
import embeddingWgsl from '../../../shaders/embedding.wgsl?raw';
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

/** Invocations per workgroup of every dispatch: the WG override and the dispatch divisor. */
export const EMBEDDING_WORKGROUP_SIZE = 256;

interface EmbeddingShape {
  /** u32, rows values: token ids < vocab. */
  ids: GPUBuffer;
  /** batch·seq tokens; a multiple of seq. Token r sits at position r mod seq. */
  rows: number;
  seq: number;
  dim: number;
  vocab: number;
}

export interface EmbeddingArgs extends EmbeddingShape {
  /** f32, vocab×dim. */
  tokenTable: GPUBuffer;
  /** f32, maxPos×dim; the first seq rows are read. null: no learned positions (rotary models). */
  posTable: GPUBuffer | null;
  /** rows×dim values of storage outStorage, overwritten. */
  out: GPUBuffer;
  outStorage: Storage;
  label?: string;
}

export interface EmbeddingBackwardArgs extends EmbeddingShape {
  /** f32, rows×dim. */
  dOut: GPUBuffer;
  /** f32, vocab×dim. */
  dToken: GPUBuffer;
  /** true: dToken += the gradient (it already holds the tied LM head's); false: overwritten. */
  accumulateToken: boolean;
  /** f32, maxPos×dim, overwritten: rows < seq get the gradient, rows ≥ seq are set to 0. null: no position table. */
  dPos: GPUBuffer | null;
  maxPos: number;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(embeddingWgsl);

function checkShape(s: EmbeddingShape): void {
  const { rows, seq, dim, vocab } = s;
  for (const [name, n] of [['rows', rows], ['seq', seq], ['dim', dim], ['vocab', vocab], ['rows·dim', rows * dim], ['vocab·dim', vocab * dim]] as const) {
    checkCount('Embedding', name, n);
  }
  if (rows % seq !== 0) throw new RangeError(`Embedding: rows (${rows}) must be batch·seq, a multiple of seq (${seq})`);
  checkBuffer('Embedding', 'ids', s.ids, 4 * rows);
}

export function recordEmbedding(device: GPUDevice, encoder: GPUCommandEncoder, args: EmbeddingArgs): void {
  const { rows, seq, dim, vocab } = args;
  checkShape(args);
  checkBuffer('Embedding', 'tokenTable', args.tokenTable, 4 * vocab * dim);
  if (args.posTable) checkBuffer('Embedding', 'posTable', args.posTable, 4 * seq * dim);
  checkBuffer('Embedding', 'out', args.out, storageBytes(rows * dim, args.outStorage));
  for (const b of [args.ids, args.tokenTable, args.posTable]) {
    if (b === args.out) throw new TypeError(`Embedding: out buffer '${b.label}' is also an input`);
  }
  const pipeline = cachedPipeline(caches, device, {
    family: 'Embedding',
    code,
    entryPoint: 'forward',
    constants: { ROWS: rows, SEQ: seq, DIM: dim, VOCAB: vocab, OUT_KIND: STORAGE_CODE[args.outStorage], USE_POS: Number(args.posTable !== null), WG: EMBEDDING_WORKGROUP_SIZE },
  });
  const words = Math.ceil((rows * dim) / 2);
  recordPass(device, encoder, args.label ?? 'Embedding.pass[forward]', [
    {
      pipeline,
      // Without positions the token table stands in for posTable (two read-only bindings; never read).
      buffers: { 0: args.ids, 1: args.tokenTable, 2: args.posTable ?? args.tokenTable, 3: args.out },
      groups: Math.ceil(words / EMBEDDING_WORKGROUP_SIZE),
      label: 'Embedding.bindGroup[forward]',
    },
  ], KERNEL_WORK.embedding(rows, dim));
}

export function recordEmbeddingBackward(device: GPUDevice, encoder: GPUCommandEncoder, args: EmbeddingBackwardArgs): void {
  const { rows, seq, dim, vocab, maxPos } = args;
  checkShape(args);
  if (!Number.isInteger(maxPos) || maxPos < seq) throw new RangeError(`Embedding: maxPos (${maxPos}) must be an integer ≥ seq (${seq})`);
  checkCount('Embedding', 'maxPos·dim', maxPos * dim);
  checkBuffer('Embedding', 'dOut', args.dOut, 4 * rows * dim);
  checkBuffer('Embedding', 'dToken', args.dToken, 4 * vocab * dim);
  if (args.dPos) checkBuffer('Embedding', 'dPos', args.dPos, 4 * maxPos * dim);
  const written = [args.dToken, ...(args.dPos ? [args.dPos] : [])];
  if (args.dToken === args.dPos || written.some((b) => b === args.ids || b === args.dOut)) {
    throw new TypeError('Embedding: dToken and dPos must be two buffers of their own, distinct from ids and dOut');
  }
  const constants = {
    ROWS: rows,
    SEQ: seq,
    DIM: dim,
    VOCAB: vocab,
    MAX_POS: maxPos,
    ACCUMULATE: Number(args.accumulateToken),
    WG: EMBEDDING_WORKGROUP_SIZE,
  };
  const tokenGrad = cachedPipeline(caches, device, { family: 'Embedding', code, entryPoint: 'token_grad', constants });
  const dispatches: Parameters<typeof recordPass>[3] = [
    {
      pipeline: tokenGrad,
      buffers: { 0: args.ids, 4: args.dOut, 5: args.dToken },
      groups: Math.ceil((vocab * dim) / EMBEDDING_WORKGROUP_SIZE),
      label: 'Embedding.bindGroup[tokenGrad]',
    },
  ];
  if (args.dPos) {
    dispatches.push({
      pipeline: cachedPipeline(caches, device, { family: 'Embedding', code, entryPoint: 'position_grad', constants }),
      buffers: { 4: args.dOut, 6: args.dPos },
      groups: Math.ceil((maxPos * dim) / EMBEDDING_WORKGROUP_SIZE),
      label: 'Embedding.bindGroup[positionGrad]',
    });
  }
  recordPass(device, encoder, args.label ?? 'Embedding.pass[backward]', dispatches, KERNEL_WORK.embeddingBackward(rows, dim, vocab, args.accumulateToken, args.dPos !== null));
}
