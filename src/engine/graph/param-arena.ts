/**
 * The trainable parameters' arenas (engine/arena.ts): fp32 values, gradients, optimizer
 * states and, under amp, the 16-bit copies, each one buffer per chunk, laid out alike, so the
 * optimizer updates a chunk's every tensor in one dispatch and writes its 16-bit copies in the
 * same pass (kernels/optimizer.ts).
 *
 * Layout of a chunk, in bytes: tensor k at offset o_k, o_0 = 0, o_{k+1} = o_k + e_k with
 * extent e_k = ⌈4·n_k / A⌉·A, A = 2 × minStorageBufferOffsetAlignment (256 B on most
 * devices, so A = 512 B = 128 values). The gradient and the states of tensor k are at o_k of
 * their arenas; its 16-bit copy at o_k / 2 of the half arena (⌈n_k/2⌉ words in e_k / 2 bytes),
 * hence the factor 2 in A: every binding offset stays a multiple of the device's alignment.
 * The gaps hold zeros in every arena, and the optimizer leaves a zero value with a zero
 * gradient and zero states at zero, so updating a whole chunk touches no tensor's bytes.
 * A chunk holds tensors while its bytes stay within maxStorageBufferBindingSize and
 * maxBufferSize; a small model has one. The ledger records every slice as its tensor, with its
 * bytes as requested and its extent as allocated; the estimate compares requested bytes.
 */
import { ArenaSlice } from '../arena.ts';
import type { Ledger } from '../ledger.ts';
import { type HalfStorage, storageBytes } from '../kernels/storage.ts';

/** Optimizer states per parameter value. */
export type StateCount = 0 | 1 | 2;

export interface ArenaTensor {
  name: string;
  n: number;
  chunk: number;
  master: ArenaSlice;
  half: ArenaSlice | null;
  m: ArenaSlice | null;
  v: ArenaSlice | null;
  grad: ArenaSlice;
}

export interface ArenaChunk {
  /** Bytes of the fp32 arenas (values, gradients, states); the half arena has half. */
  bytes: number;
  tensors: ArenaTensor[];
  master: GPUBuffer | null;
  grad: GPUBuffer | null;
  m: GPUBuffer | null;
  v: GPUBuffer | null;
  half: GPUBuffer | null;
  /** Initial values waiting for the chunk's buffers, by tensor. */
  pending: Map<ArenaTensor, Float32Array>;
}

const usage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export class ParamArena {
  readonly chunks: ArenaChunk[] = [];
  private readonly device: GPUDevice;
  private readonly ledger: Ledger;
  private readonly states: StateCount;
  private readonly halfStorage: HalfStorage | null;
  private readonly align: number;
  private readonly limit: number;

  constructor(device: GPUDevice, ledger: Ledger, states: StateCount, halfStorage: HalfStorage | null) {
    this.device = device;
    this.ledger = ledger;
    this.states = states;
    this.halfStorage = halfStorage;
    this.align = 2 * device.limits.minStorageBufferOffsetAlignment;
    this.limit = Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / this.align) * this.align;
  }

  /**
   * Lays out a tensor of n values in the open chunk (opening the next when it is full) and
   * records its values (category `category`), 16-bit copy and states in the ledger now; its
   * gradient is recorded when backward makes it (gradient()). The values are written once
   * the chunk's buffers exist.
   */
  async add(name: string, n: number, category: 'weights' | 'master-weights', withHalf: boolean, init: (n: number) => Float32Array): Promise<ArenaTensor> {
    const extent = Math.ceil((4 * n) / this.align) * this.align;
    let chunk = this.chunks.at(-1);
    if (!chunk || chunk.master || (chunk.bytes + extent > this.limit && chunk.tensors.length > 0)) {
      if (chunk && !chunk.master) await this.allocateChunk(chunk);
      chunk = { bytes: 0, tensors: [], master: null, grad: null, m: null, v: null, half: null, pending: new Map() };
      this.chunks.push(chunk);
    }
    const offset = chunk.bytes;
    const slice = (suffix: string, bytes: number, at = offset, ext = extent) => new ArenaSlice(`${name}${suffix}`, at, bytes, ext);
    const half = withHalf && this.halfStorage ? slice('.half', storageBytes(n, this.halfStorage), offset / 2, extent / 2) : null;
    const t: ArenaTensor = {
      name,
      n,
      chunk: this.chunks.length - 1,
      master: slice('', 4 * n),
      half,
      m: this.states >= 1 ? slice(this.states === 1 ? '.momentum' : '.m', 4 * n) : null,
      v: this.states >= 2 ? slice('.v', 4 * n) : null,
      grad: slice('.grad', 4 * n),
    };
    // The ledger refuses a tensor over the device's limits before the chunk grows and before
    // any host memory is spent on its initial values.
    this.ledger.trackSlice(t.master, name, category, 4 * n);
    chunk.bytes += extent;
    chunk.tensors.push(t);
    chunk.pending.set(t, init(n));
    if (half) this.ledger.trackSlice(half, `${name}.half`, 'weights', half.size);
    if (t.m) this.ledger.trackSlice(t.m, t.m.label, 'optimizer', 4 * n);
    if (t.v) this.ledger.trackSlice(t.v, t.v.label, 'optimizer', 4 * n);
    return t;
  }

  /** Creates the open chunk's buffers and writes its values; after the last add(). */
  async allocate(): Promise<void> {
    const chunk = this.chunks.at(-1);
    if (chunk && !chunk.master) await this.allocateChunk(chunk);
  }

  private async allocateChunk(chunk: ArenaChunk): Promise<void> {
    const i = this.chunks.indexOf(chunk);
    const make = (role: string, bytes: number) => this.ledger.createArena(`params${i}.${role}`, bytes, usage());
    chunk.master = await make('values', chunk.bytes);
    chunk.grad = await make('grads', chunk.bytes);
    // New buffers are zero: the states start at zero as torch.optim's do, and the gaps are zero.
    if (this.states >= 1) chunk.m = await make('m', chunk.bytes);
    if (this.states >= 2) chunk.v = await make('v', chunk.bytes);
    if (chunk.tensors.some((t) => t.half)) chunk.half = await make('half', chunk.bytes / 2);
    for (const t of chunk.tensors) {
      t.master.arena = chunk.master;
      t.grad.arena = chunk.grad;
      if (t.m) t.m.arena = chunk.m!;
      if (t.v) t.v.arena = chunk.v!;
      if (t.half) t.half.arena = chunk.half!;
      this.device.queue.writeBuffer(chunk.master, t.master.offset, chunk.pending.get(t)!);
    }
    chunk.pending.clear();
  }

  /** Values of chunk c's tensors (the padding excluded) and of those with a 16-bit copy. */
  counted(c: number): { values: number; halfValues: number } {
    const ts = this.chunks[c]!.tensors;
    return { values: ts.reduce((a, t) => a + t.n, 0), halfValues: ts.reduce((a, t) => a + (t.half ? t.n : 0), 0) };
  }
}
