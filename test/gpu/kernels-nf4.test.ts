/**
 * NF4 weights and the LoRA elementwise kernels. The CPU quantiser against bitsandbytes' rules
 * (16 values, one absmax per 64-value block, nearest value), the packed bytes; the NF4 matmul
 * (weight dequantised in the kernel) against an f64 CPU reference that dequantises the same
 * codes, for x·W and dY·Wᵀ, over odd shapes (K and K·N not multiples of 64, N odd) and
 * fp32/f16/bf16 activations and outputs; the LoRA scale, add (with and without GELU) and
 * activation-grad against CPU references.
 */
import { describe, expect, it } from 'vitest';
import { NF4_VALUES, dequantizeNf4, nf4AbsmaxBytes, nf4Code, nf4CodeBytes, quantizeNf4, recordNf4Matmul } from '../../src/engine/kernels/nf4.ts';
import { recordLoraActivationGrad, recordLoraAdd, recordLoraScale } from '../../src/engine/kernels/lora.ts';
import { decodeStorage, encodeStorage, roundToStorage, storageBytes, type Storage } from '../../src/engine/kernels/storage.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms } from '../helpers/random.ts';
import { F32_REL, OUT_REL, act, actGrad, expectClose } from '../helpers/reference.ts';

const fx = useGpuFixture('test.kernels-nf4');

describe('NF4: the CPU quantiser', () => {
  it('maps each value to the nearest NF4 value of its 64-value block, absmax per block', () => {
    const n = 64 * 3 + 5; // a short last block
    const x = randoms(n, 7, -2, 2);
    x[70] = 0; // an exact zero stays zero
    const q = quantizeNf4(x);
    expect(q.codes.length).toBe(Math.ceil(n / 8));
    expect(q.absmax.length).toBe(4);
    const back = dequantizeNf4(q);
    for (let b = 0; b < 4; b++) {
      const block = x.subarray(b * 64, Math.min(n, (b + 1) * 64));
      const m = Math.max(...Array.from(block, Math.abs));
      expect(q.absmax[b]).toBe(Math.fround(m));
      for (let i = b * 64; i < Math.min(n, (b + 1) * 64); i++) {
        const scaled = x[i]! / m;
        const best = Math.min(...NF4_VALUES.map((v) => Math.abs(v - scaled)));
        // The chosen value is a nearest one (ties aside, within f32 rounding).
        expect(Math.abs(back[i]! / m - scaled)).toBeLessThanOrEqual(best + 1e-6);
      }
    }
    expect(back[70]).toBe(0);
    // The block's absmax itself is represented exactly (code ±1).
    const iMax = Array.from(x.subarray(0, 64), Math.abs).indexOf(q.absmax[0]!);
    expect(Math.abs(back[iMax]!)).toBe(q.absmax[0]);
  });

  it('ties between two NF4 values go to the larger, as bitsandbytes compares with >', () => {
    const mid = (NF4_VALUES[8]! + NF4_VALUES[9]!) / 2;
    expect(nf4Code(mid)).toBe(8);
    expect(nf4Code(mid + 1e-6)).toBe(9);
    expect(nf4Code(-1)).toBe(0);
    expect(nf4Code(1)).toBe(15);
    expect(nf4Code(0)).toBe(7);
  });

  it('a zero block decodes to zeros', () => {
    const q = quantizeNf4(new Float32Array(64));
    expect(q.absmax[0]).toBe(0);
    expect(Array.from(dequantizeNf4(q))).toEqual(new Array(64).fill(0));
  });

  it('costs 0.5 B per value plus 4 B per 64 values', () => {
    expect(nf4CodeBytes(4096)).toBe(2048);
    expect(nf4AbsmaxBytes(4096)).toBe(256);
    expect((nf4CodeBytes(768 * 768) + nf4AbsmaxBytes(768 * 768)) / (768 * 768)).toBe(0.5625);
    expect(nf4CodeBytes(9)).toBe(8);
    expect(nf4AbsmaxBytes(65)).toBe(8);
  });
});

interface Case {
  M: number;
  K: number;
  N: number;
  xS: Storage;
  outS: Storage;
  bias: boolean;
}

/** f64 reference: out = x · W (+ bias), W from the dequantised codes (K×N). */
function reference(c: Case, x: Float32Array, w: Float32Array, bias: Float32Array | null, transposed: boolean): { want: Float64Array; mag: Float64Array } {
  // Forward: out M×N = x(M×K)·W(K×N). Backward: out M×K = dY(M×N)·Wᵀ.
  const [rows, cols, inner] = transposed ? [c.M, c.K, c.N] : [c.M, c.N, c.K];
  const want = new Float64Array(rows * cols);
  const mag = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < inner; k++) {
        const wv = transposed ? w[j * c.N + k]! : w[k * c.N + j]!;
        const t = x[i * inner + k]! * wv;
        s += t;
        m += Math.abs(t);
      }
      if (bias && !transposed) {
        s += bias[j]!;
        m += Math.abs(bias[j]!);
      }
      want[i * cols + j] = s;
      mag[i * cols + j] = m;
    }
  }
  return { want, mag };
}

const CASES: Case[] = [
  { M: 3, K: 70, N: 5, xS: 'f32', outS: 'f32', bias: true }, // K·N = 350: the last block short
  { M: 5, K: 64, N: 64, xS: 'f32', outS: 'f32', bias: false },
  { M: 4, K: 33, N: 7, xS: 'f16', outS: 'f16', bias: true },
  { M: 7, K: 96, N: 9, xS: 'bf16', outS: 'bf16', bias: true },
  { M: 1, K: 130, N: 3, xS: 'bf16', outS: 'f32', bias: false },
];

describe('NF4 matmul against the f64 reference of the dequantised weight', () => {
  it.each(CASES)('%j: x·W and dY·Wᵀ', async (c) => {
    const w = quantizeNf4(randoms(c.K * c.N, c.K * 31 + c.N, -0.5, 0.5));
    const wd = dequantizeNf4(w);
    const codes = await fx.upload('W.nf4', w.codes, 'weights');
    const absmax = await fx.upload('W.absmax', w.absmax, 'weights');
    const bias = c.bias ? randoms(c.N, 3) : null;
    const biasBuf = bias ? await fx.upload('b', bias, 'weights') : undefined;
    const tol = (ref: { mag: Float64Array; want: Float64Array }) => (i: number) => F32_REL * ref.mag[i]! + OUT_REL[c.outS] * Math.abs(ref.want[i]!) + 1e-7;

    // Forward: x (M×K) · W.
    const x = roundToStorage(randoms(c.M * c.K, c.M + 5), c.xS);
    const xBuf = await fx.upload('x', encodeStorage(x, c.xS), 'activations');
    const y = await fx.empty('y', storageBytes(c.M * c.N, c.outS), 'activations');
    fx.submit((enc) => recordNf4Matmul(fx.device, enc, { M: c.M, N: c.N, K: c.K, a: xBuf, aStorage: c.xS, codes, absmax, wTransposed: false, out: y, outStorage: c.outS, bias: biasBuf, label: 'fwd' }));
    const fwd = reference(c, x, wd, bias, false);
    expectClose('x·W', decodeStorage(await fx.read(y), c.M * c.N, c.outS), fwd.want, tol(fwd));

    // Backward: dY (M×N) · Wᵀ → M×K.
    const dy = roundToStorage(randoms(c.M * c.N, c.N + 11), c.xS);
    const dyBuf = await fx.upload('dY', encodeStorage(dy, c.xS), 'activation-grads');
    const dx = await fx.empty('dX', storageBytes(c.M * c.K, c.outS), 'activation-grads');
    fx.submit((enc) => recordNf4Matmul(fx.device, enc, { M: c.M, N: c.K, K: c.N, a: dyBuf, aStorage: c.xS, codes, absmax, wTransposed: true, out: dx, outStorage: c.outS, label: 'bwd' }));
    const bwd = reference(c, dy, wd, null, true);
    expectClose('dY·Wᵀ', decodeStorage(await fx.read(dx), c.M * c.K, c.outS), bwd.want, tol(bwd));
  });

  it('refuses a codes buffer too small for K·N values, naming it', async () => {
    const codes = await fx.empty('W.nf4', 8, 'weights');
    const absmax = await fx.empty('W.absmax', 4, 'weights');
    const x = await fx.empty('x', 4 * 4 * 64, 'activations');
    const out = await fx.empty('y', 4 * 4 * 4, 'activations');
    expect(() => fx.submit((enc) => recordNf4Matmul(fx.device, enc, { M: 4, N: 4, K: 64, a: x, aStorage: 'f32', codes, absmax, wTransposed: false, out, outStorage: 'f32' }))).toThrow(/codes buffer 'Ledger.W.nf4' has 8 B, needs 128 B/);
  });
});

describe('LoRA elementwise kernels', () => {
  it.each(['f32', 'f16', 'bf16'] as const)('%s: scale, add, add with GELU, GELU backward (odd n)', async (s) => {
    const n = 37;
    // One ulp of the storage (f32: 2^-23), relative.
    const ulp = Math.max(OUT_REL[s], 2 ** -23);
    const x0 = roundToStorage(randoms(n, 1, -2, 2), s);
    const x = await fx.upload('x', encodeStorage(x0, s), 'activations');
    fx.submit((enc) => recordLoraScale(fx.device, enc, { x, xStorage: s, n, scale: 2.5 }));
    const scaled = decodeStorage(await fx.read(x), n, s);
    expectClose('scale', scaled, Array.from(x0, (v) => 2.5 * v), (i) => ulp * Math.abs(2.5 * x0[i]!));

    const t = randoms(n, 2, -1, 1);
    const tBuf = await fx.upload('t', t, 'activations');
    const y = await fx.upload('y', encodeStorage(x0, s), 'activations');
    fx.submit((enc) => recordLoraAdd(fx.device, enc, { y, yStorage: s, t: tBuf, n }));
    expectClose('add', decodeStorage(await fx.read(y), n, s), Array.from(x0, (v, i) => v + t[i]!), (i) => ulp * Math.abs(x0[i]! + t[i]!) + 1e-6);

    const pre = await fx.upload('pre', encodeStorage(x0, s), 'activations');
    const a = await fx.empty('act', storageBytes(n, s), 'activations');
    fx.submit((enc) => recordLoraAdd(fx.device, enc, { y: pre, yStorage: s, t: tBuf, n, act: { fn: 'gelu', out: a, storage: s } }));
    const sum = Array.from(x0, (v, i) => Math.fround(v + t[i]!));
    expectClose('add+gelu', decodeStorage(await fx.read(a), n, s), sum.map((v) => act('gelu', v)), (i) => ulp * Math.abs(act('gelu', sum[i]!)) + 1e-6);

    const g0 = randoms(n, 3);
    const g = await fx.upload('g', g0, 'activation-grads');
    const p = await fx.upload('pre2', encodeStorage(x0, s), 'activations');
    fx.submit((enc) => recordLoraActivationGrad(fx.device, enc, { g, pre: p, preStorage: s, fn: 'gelu', n }));
    expectClose('gelu backward', new Float32Array((await fx.read(g)).buffer), Array.from(g0, (v, i) => v * actGrad('gelu', x0[i]!)), () => 1e-5);
  });
});
