/**
 * NF4 family: 4-bit NormalFloat weights as QLoRA stores its frozen base (Dettmers et al. 2023,
 * arXiv 2305.14314; bitsandbytes `quantize_4bit(quant_type='nf4', blocksize=64)`), the CPU
 * quantiser and dequantiser, and a matmul whose weight operand is NF4, dequantised inside the
 * kernel (shaders/nf4.wgsl): out = A·W (+ bias) for the forward product x·W, and out = A·Wᵀ
 * for the backward product dY·Wᵀ. A frozen base needs no weight gradient, so there is none.
 *
 * Layout of n values (row-major as stored, e.g. a weight in×out):
 *   codes  — u32 words, 8 codes per word: value i is bits 4·(i & 7) … +3 of word i >> 3;
 *            ⌈n / 8⌉ × 4 B. (bitsandbytes packs 2 per byte, the first in the high nibble;
 *            the order inside a word is this project's, the values are the same.)
 *   absmax — f32, one per 64 consecutive values (the last block may be shorter): ⌈n / 64⌉ × 4 B.
 * So NF4 costs 0.5 B per value plus 4 B per 64 values (0.0625 B): 0.5625 B per parameter, the
 * "≈ 0.5 B + block scales" of the planner (bitsandbytes' double quantisation, which shrinks the
 * scales to ≈ 0.127 bit per value, is not done here).
 * Quantisation: per block, x / absmax is rounded to the nearest NF4 value (ties to the larger,
 * as bitsandbytes' decision tree compares with `>` against the midpoints); a block of zeros
 * has absmax 0 and decodes to zeros.
 */
import nf4Wgsl from '../../../shaders/nf4.wgsl?raw';
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
import { NF4_BLOCK, nf4AbsmaxBytes, nf4CodeBytes } from '../../estimate/vramlab.ts';

export { NF4_BLOCK, nf4AbsmaxBytes, nf4CodeBytes };

/** bitsandbytes functional.py, get_4bit_type('nf4'): the 16 NF4 values, ascending. */
export const NF4_VALUES: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

/** Midpoints between neighbouring NF4 values: code c is chosen for x in (mid[c − 1], mid[c]]. */
const MIDPOINTS = NF4_VALUES.slice(1).map((v, i) => (v + NF4_VALUES[i]!) / 2);

/** The NF4 code of a value already scaled to [-1, 1]. */
export function nf4Code(x: number): number {
  let c = 0;
  while (c < 15 && x > MIDPOINTS[c]!) c++;
  return c;
}

export interface Nf4Tensor {
  /** ⌈n / 8⌉ words. */
  codes: Uint32Array;
  /** ⌈n / 64⌉ block scales. */
  absmax: Float32Array;
  n: number;
}

/** Blockwise NF4 quantisation of n values (bitsandbytes quantize_4bit, blocksize 64). */
export function quantizeNf4(values: Float32Array): Nf4Tensor {
  const n = values.length;
  const codes = new Uint32Array(Math.ceil(n / 8));
  const absmax = new Float32Array(Math.ceil(n / NF4_BLOCK));
  for (let b = 0; b < absmax.length; b++) {
    const end = Math.min(n, (b + 1) * NF4_BLOCK);
    let m = 0;
    for (let i = b * NF4_BLOCK; i < end; i++) m = Math.max(m, Math.abs(values[i]!));
    absmax[b] = m;
    // A zero block: every value is 0, code 7.
    const inv = m > 0 ? 1 / Math.fround(m) : 0;
    for (let i = b * NF4_BLOCK; i < end; i++) codes[i >> 3]! |= nf4Code(values[i]! * inv) << (4 * (i & 7));
  }
  return { codes, absmax, n };
}

/** The values an NF4 tensor stands for, as the kernel computes them (f32 product code · absmax). */
export function dequantizeNf4(t: Nf4Tensor): Float32Array {
  const out = new Float32Array(t.n);
  for (let i = 0; i < t.n; i++) out[i] = Math.fround(NF4_VALUES[(t.codes[i >> 3]! >>> (4 * (i & 7))) & 0xf]!) * t.absmax[Math.floor(i / NF4_BLOCK)]!;
  return out;
}

export interface Nf4MatmulArgs {
  M: number;
  N: number;
  K: number;
  /** M×K values of storage aStorage. */
  a: GPUBuffer;
  aStorage: Storage;
  /** The NF4 weight: K×N values, or N×K when wTransposed (see the layout above). */
  codes: GPUBuffer;
  absmax: GPUBuffer;
  wTransposed: boolean;
  /** M×N values of storage outStorage, overwritten. */
  out: GPUBuffer;
  outStorage: Storage;
  /** f32, N values. */
  bias?: GPUBuffer;
  label?: string;
}

/** Invocations per workgroup: the WG override and the dispatch count both come from here. */
export const NF4_WORKGROUP_SIZE = 64;

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(nf4Wgsl);

/** out = A · W (or A · Wᵀ) with W in NF4, computed in f32, rounded once to outStorage. */
export function recordNf4Matmul(device: GPUDevice, encoder: GPUCommandEncoder, args: Nf4MatmulArgs): void {
  const { M, N, K } = args;
  checkCount('Nf4', 'M', M);
  checkCount('Nf4', 'N', N);
  checkCount('Nf4', 'K', K);
  for (const [name, n] of [['M·N', M * N], ['M·K', M * K], ['K·N', K * N]] as const) checkCount('Nf4', name, n);
  checkBuffer('Nf4', 'a', args.a, storageBytes(M * K, args.aStorage));
  checkBuffer('Nf4', 'codes', args.codes, nf4CodeBytes(K * N));
  checkBuffer('Nf4', 'absmax', args.absmax, nf4AbsmaxBytes(K * N));
  checkBuffer('Nf4', 'out', args.out, storageBytes(M * N, args.outStorage));
  if (args.bias) checkBuffer('Nf4', 'bias', args.bias, 4 * N);
  const pipeline = cachedPipeline(caches, device, {
    family: 'Nf4',
    code,
    entryPoint: 'matmul',
    constants: {
      M,
      N,
      K,
      B_T: Number(args.wTransposed),
      A_KIND: STORAGE_CODE[args.aStorage],
      OUT_KIND: STORAGE_CODE[args.outStorage],
      HAS_BIAS: Number(args.bias !== undefined),
      WG: NF4_WORKGROUP_SIZE,
    },
  });
  const words = Math.ceil((M * N) / 2);
  recordPass(
    device,
    encoder,
    args.label ? `Nf4.pass[${args.label}]` : 'Nf4.pass',
    [{ pipeline, buffers: { 0: args.a, 1: args.codes, 2: args.absmax, 3: args.out, 4: args.bias ?? args.absmax }, groups: Math.ceil(words / NF4_WORKGROUP_SIZE), label: 'Nf4.bindGroup' }],
    KERNEL_WORK.nf4Matmul(M, N, K, args.bias !== undefined),
  );
}
