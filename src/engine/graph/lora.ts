/**
 * A LoRA linear (Hu et al. 2021, arXiv 2106.09685; QLoRA, Dettmers et al. 2023): a frozen
 * base weight W (in×out: fp32, packed 16-bit under amp, or NF4 under QLoRA) with an optional
 * frozen bias, and trainable adapters A (in×r) and B (r×out), B starting at zero so the
 * first step is the base model's:
 *
 *   forward   y = x·W (+ b) + s·(x·A)·B,             s = alpha / r
 *   backward  dB = (s·x·A)ᵀ·dY;  G = s·dY·Bᵀ;  dA = xᵀ·G;  dX = dY·Wᵀ + G·Aᵀ
 *
 * W gets no gradient, so no optimizer state either: the base's memory is its stored bytes
 * alone. What LoRA does not save is the activations: dA needs x, the base projection's input,
 * which the block keeps as it would for dW; LoRA adds s·(x·A) (rows×r) to it.
 *
 * Tensor names (protocol/ledger.ts LORA_ADAPTER): `<name>.lora_A`, `<name>.lora_B` (weights,
 * trainable), `<name>.lora_xa` (activations, kept for backward), `<name>.lora_xaB` (the
 * adapter's product, fp32, until added to y), `<name>.lora_dxa` (G) and `<name>.lora_dx`
 * (G·Aᵀ until added to dX), activation gradients, fp32.
 */
import { recordNf4Matmul } from '../kernels/nf4.ts';
import { recordAccumulate } from '../kernels/elementwise.ts';
import { recordLoraAdd, recordLoraScale } from '../kernels/lora.ts';
import { recordMatmul, type ActivationFn } from '../kernels/matmul.ts';
import { storageBytes, type Storage } from '../kernels/storage.ts';
import type { LedgerCategory } from '../../protocol/ledger.ts';
import type { Param } from './trainer.ts';

/** A frozen base weight, in×out as stored: dense in a storage, or NF4 codes and block scales. */
export type FrozenWeight = { kind: 'dense'; buf: GPUBuffer; storage: Storage } | { kind: 'nf4'; codes: GPUBuffer; absmax: GPUBuffer };

/** What a LoRA linear needs of its trainer: tensors from the ledger, inside the step. */
export interface LoraContext {
  device: GPUDevice;
  buffer(name: string, category: LedgerCategory, bytes: number): Promise<GPUBuffer>;
  release(buffer: GPUBuffer): void;
  /** Storage of activations (x, y, s·x·A). */
  act: Storage;
}

export interface LoraForwardArgs {
  rows: number;
  /** rows×in, storage ctx.act. */
  x: GPUBuffer;
  /** rows×out, storage ctx.act, overwritten with y. */
  out: GPUBuffer;
  /** act = fn(y) into this buffer (storage ctx.act): the epilogue a base matmul would apply. */
  activation?: { fn: ActivationFn; out: GPUBuffer };
  /** false: only s·(x·A) (the last block of a recomputed segment needs it for backward, not y). */
  product?: boolean;
}

export interface LoraBackwardArgs {
  rows: number;
  /** f32 rows×out. */
  dY: GPUBuffer;
  /** The forward's input, rows×in, storage ctx.act. */
  x: GPUBuffer;
  /** What forward returned: s·(x·A). */
  xa: GPUBuffer;
  /** f32 rows×in, overwritten with dX. */
  dX: GPUBuffer;
  /** f32, in×r and r×out, overwritten. */
  gA: GPUBuffer;
  gB: GPUBuffer;
}

export class LoraLinear {
  constructor(
    readonly name: string,
    /** in */
    readonly K: number,
    /** out */
    readonly N: number,
    readonly rank: number,
    /** alpha / rank */
    readonly scale: number,
    readonly base: FrozenWeight,
    /** f32, out values; frozen. */
    readonly bias: GPUBuffer | null,
    readonly A: Param,
    readonly B: Param,
  ) {
    if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`LoraLinear ${name}: rank must be a positive integer, got ${rank}`);
  }

  /** out = x·W (+ b), or with `transposed` out = x·Wᵀ (x then rows×out, out rows×in). */
  private recordBase(device: GPUDevice, enc: GPUCommandEncoder, rows: number, x: GPUBuffer, xStorage: Storage, out: GPUBuffer, outStorage: Storage, transposed: boolean): void {
    const [N, K] = transposed ? [this.K, this.N] : [this.N, this.K];
    const bias = !transposed && this.bias ? this.bias : undefined;
    const label = `${this.name}${transposed ? '.dX' : ''}`;
    if (this.base.kind === 'nf4') {
      recordNf4Matmul(device, enc, { M: rows, N, K, a: x, aStorage: xStorage, codes: this.base.codes, absmax: this.base.absmax, wTransposed: transposed, out, outStorage, bias, label });
    } else {
      recordMatmul(device, enc, { M: rows, N, K, a: x, aStorage: xStorage, aTransposed: false, b: this.base.buf, bStorage: this.base.storage, bTransposed: transposed, out, outStorage, bias, label });
    }
  }

  /** Records y = x·W (+ b) + s·(x·A)·B into out; returns s·(x·A), kept for backward. */
  async forward(ctx: LoraContext, enc: GPUCommandEncoder, args: LoraForwardArgs): Promise<GPUBuffer> {
    const { device, act } = ctx;
    const { rows, x, out } = args;
    const r = this.rank;
    const xa = await ctx.buffer(`${this.name}.lora_xa`, 'activations', storageBytes(rows * r, act));
    recordMatmul(device, enc, { M: rows, N: r, K: this.K, a: x, aStorage: act, aTransposed: false, b: this.A.master, bStorage: 'f32', bTransposed: false, out: xa, outStorage: act, label: `${this.name}.xA` });
    recordLoraScale(device, enc, { x: xa, xStorage: act, n: rows * r, scale: this.scale });
    if (args.product === false) return xa;
    this.recordBase(device, enc, rows, x, act, out, act, false);
    const t = await ctx.buffer(`${this.name}.lora_xaB`, 'activations', 4 * rows * this.N);
    recordMatmul(device, enc, { M: rows, N: this.N, K: r, a: xa, aStorage: act, aTransposed: false, b: this.B.master, bStorage: 'f32', bTransposed: false, out: t, outStorage: 'f32', label: `${this.name}.xAB` });
    const a = args.activation;
    recordLoraAdd(device, enc, { y: out, yStorage: act, t, n: rows * this.N, ...(a ? { act: { fn: a.fn, out: a.out, storage: act } } : {}) });
    ctx.release(t);
    return xa;
  }

  /** Records dA, dB and dX = dY·Wᵀ + s·dY·Bᵀ·Aᵀ; no gradient for W. */
  async backward(ctx: LoraContext, enc: GPUCommandEncoder, args: LoraBackwardArgs): Promise<void> {
    const { device, act } = ctx;
    const { rows, dY, x, xa, dX, gA, gB } = args;
    const r = this.rank;
    // dB = (s·x·A)ᵀ·dY.
    recordMatmul(device, enc, { M: r, N: this.N, K: rows, a: xa, aStorage: act, aTransposed: true, b: dY, bStorage: 'f32', bTransposed: false, out: gB, outStorage: 'f32', label: `${this.name}.dB` });
    // G = s·dY·Bᵀ = d(x·A); dA = xᵀ·G.
    const g = await ctx.buffer(`${this.name}.lora_dxa`, 'activation-grads', 4 * rows * r);
    recordMatmul(device, enc, { M: rows, N: r, K: this.N, a: dY, aStorage: 'f32', aTransposed: false, b: this.B.master, bStorage: 'f32', bTransposed: true, out: g, outStorage: 'f32', label: `${this.name}.dxa` });
    recordLoraScale(device, enc, { x: g, xStorage: 'f32', n: rows * r, scale: this.scale });
    recordMatmul(device, enc, { M: this.K, N: r, K: rows, a: x, aStorage: act, aTransposed: true, b: g, bStorage: 'f32', bTransposed: false, out: gA, outStorage: 'f32', label: `${this.name}.dA` });
    // dX = dY·Wᵀ + G·Aᵀ.
    this.recordBase(device, enc, rows, dY, 'f32', dX, 'f32', true);
    const t = await ctx.buffer(`${this.name}.lora_dx`, 'activation-grads', 4 * rows * this.K);
    recordMatmul(device, enc, { M: rows, N: this.K, K: r, a: g, aStorage: 'f32', aTransposed: false, b: this.A.master, bStorage: 'f32', bTransposed: true, out: t, outStorage: 'f32', label: `${this.name}.dxA` });
    recordAccumulate(device, enc, { x: t, into: dX, n: rows * this.K });
    ctx.release(t);
    ctx.release(g);
  }
}
