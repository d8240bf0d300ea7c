/**
 * What the kernel tests share: the tolerances, the element-wise comparison, and the CPU
 * twins of the WGSL activations (relu, GELU's tanh approximation) and of a transpose.
 *
 * Tolerances (|gpu − ref| ≤ tol, ref in f64 from the same rounded inputs the kernel reads):
 *   f32 sums      F32_REL × Σ|terms|  (f32 accumulation error, ~K·2^-24 relative, with headroom)
 *   16-bit output + OUT_REL × |ref|   (one ulp: the f32 result may round across a tie)
 */
import { expect } from 'vitest';
import type { ActivationFn } from '../../src/engine/kernels/matmul.ts';
import { encodeStorage, roundToStorage, type Storage } from '../../src/engine/kernels/storage.ts';
import type { GpuFixture } from '../gpu/fixture.ts';
import { randoms } from './random.ts';

/** One ulp of the output storage, relative. */
export const OUT_REL: Record<Storage, number> = { f32: 0, f16: 2 ** -10, bf16: 2 ** -7 };
export const F32_REL = 1e-5;

/** Fails with the first five elements out of tolerance, named, and how many there were. */
export function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: (i: number) => number): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const t = tol(i);
    if (!(Math.abs(got[i]! - want[i]!) <= t)) bad.push(`${name}[${i}]: got ${got[i]}, want ${want[i]} ± ${t}`);
  }
  expect(bad.slice(0, 5), `${bad.length} of ${got.length} out of tolerance`).toEqual([]);
}

/** Row-major r×c → c×r. */
export function transpose(x: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = x[i * c + j]!;
  return t;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function act(fn: ActivationFn, x: number): number {
  if (fn === 'relu') return Math.max(x, 0);
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)));
}

export function actGrad(fn: ActivationFn, x: number): number {
  if (fn === 'relu') return x > 0 ? 1 : 0;
  const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

/** [aT, bT]: every way of storing the two operands. */
export const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** A matmul to test: out[M×N] = A·B, each operand stored transposed or not, each in a storage. */
export interface MatmulCase {
  M: number;
  N: number;
  K: number;
  aT: boolean;
  bT: boolean;
  aS: Storage;
  bS: Storage;
  outS: Storage;
}

/**
 * The logical A (M×K) and B (K×N) rounded to their storage, the f64 reference A·B, and
 * Σ_k |a·b| per element for the tolerance; uploads A and B in their stored layout.
 */
export async function matmulOperands(fx: GpuFixture, c: MatmulCase, seed: number) {
  const { M, N, K } = c;
  const a = roundToStorage(randoms(M * K, seed), c.aS);
  const b = roundToStorage(randoms(K * N, seed + 1), c.bS);
  const ref = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const av = a[i * K + k]!;
      for (let j = 0; j < N; j++) {
        const p = av * b[k * N + j]!;
        ref[i * N + j]! += p;
        mag[i * N + j]! += Math.abs(p);
      }
    }
  const aBuf = await fx.upload('A', encodeStorage(c.aT ? transpose(a, M, K) : a, c.aS));
  const bBuf = await fx.upload('B', encodeStorage(c.bT ? transpose(b, K, N) : b, c.bS));
  return { ref, mag, aBuf, bBuf };
}
