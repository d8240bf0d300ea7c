/**
 * Every kernel against a plain CPU reference, every backward against finite differences.
 * Shapes are small and odd on purpose (SwiftShader runs a few hundred MFLOP/s; odd sizes hit
 * the packed words that straddle rows).
 *
 * Tolerances (|gpu − ref| ≤ tol, ref in f64 from the same rounded inputs the kernel reads):
 *   f32 sums      1e-5 × Σ|terms|  (f32 accumulation error, ~K·2^-24 relative, with headroom)
 *   f16 output    + 2^-10 × |ref|  (one ulp: the f32 result may round across a tie)
 *   bf16 output   + 2^-7 × |ref|   (one ulp, 8 bits of mantissa)
 *   casts         bit-exact against the CPU packHalf/unpackHalf (both round to nearest-even)
 */
import { describe, expect, it } from 'vitest';
import { recordCast } from '../../src/engine/kernels/cast.ts';
import { recordMseLoss } from '../../src/engine/kernels/loss.ts';
import { recordMatmul } from '../../src/engine/kernels/matmul.ts';
import {
  HYPER_BYTES,
  LOSS_STATE_BYTES,
  hyperValues,
  initialLossState,
  recordCheckFinite,
  recordOptimizerStep,
  recordUpdateLossScale,
  writeHyper,
  type OptimizerKind,
} from '../../src/engine/kernels/optimizer.ts';
import { recordColumnSum } from '../../src/engine/kernels/reduce.ts';
import {
  STORAGES,
  decodeStorage,
  dispatchGrid,
  encodeStorage,
  packHalf,
  roundToStorage,
  storageBytes,
  unpackHalf,
  type Storage,
} from '../../src/engine/kernels/storage.ts';
import { ParamArena } from '../../src/engine/graph/param-arena.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms, rng } from '../helpers/random.ts';
import { OUT_REL, F32_REL, act, actGrad, expectClose, matmulOperands, TRANSPOSES, type MatmulCase } from '../helpers/reference.ts';

const fx = useGpuFixture('test.kernels');

// ---- helpers ---------------------------------------------------------------------------



async function upload(name: string, values: Float32Array, s: Storage): Promise<GPUBuffer> {
  return fx.upload(name, encodeStorage(values, s));
}

async function readValues(buffer: GPUBuffer, n: number, s: Storage): Promise<Float32Array> {
  return decodeStorage(await fx.read(buffer), n, s);
}


// ---- storage formats on the CPU ------------------------------------------------------------

describe('storage formats', () => {
  it('sizes packed tensors in whole words', () => {
    expect([0, 1, 2, 3, 7].map((n) => storageBytes(n, 'f32'))).toEqual([0, 4, 8, 12, 28]);
    expect([0, 1, 2, 3, 7].map((n) => storageBytes(n, 'f16'))).toEqual([0, 4, 4, 8, 16]);
    expect(storageBytes(5, 'bf16')).toBe(12);
  });

  it('packs even elements low, odd high, and rounds to nearest-even', () => {
    expect([...packHalf(Float32Array.of(1, -2, 0.5), 'f16')]).toEqual([(0xc000 << 16 | 0x3c00) >>> 0, 0x3800]);
    expect([...packHalf(Float32Array.of(1, -2, 0.5), 'bf16')]).toEqual([(0xc000 << 16 | 0x3f80) >>> 0, 0x3f00]);
    const f16 = (x: number) => packHalf(Float32Array.of(x), 'f16')[0]!;
    const bf16 = (x: number) => packHalf(Float32Array.of(x), 'bf16')[0]!;
    expect(f16(65504)).toBe(0x7bff);
    expect(f16(65520)).toBe(0x7c00); // halfway to the next binade rounds up to inf
    expect(f16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f16(2 ** -24)).toBe(0x0001);
    expect(f16(2 ** -25)).toBe(0x0000); // tie with zero → even
    expect(f16(Infinity)).toBe(0x7c00);
    expect(f16(NaN)).toBe(0x7e00);
    expect(bf16(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(bf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16(NaN)).toBe(0x7fc0);
    expect(bf16(3.4e38)).toBe(0x7f80);
    const back = unpackHalf(Uint32Array.of(0x7bff3c00, 0x8001fc00), 4, 'f16');
    expect([...back]).toEqual([1, 65504, -Infinity, -(2 ** -24)]);
  });

  it('rounds f16 and bf16 to a nearest representable value', () => {
    const xs = randoms(2000, 7, -70000, 70000);
    for (const s of ['f16', 'bf16'] as const) {
      const r = roundToStorage(xs, s);
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        if (s === 'f16' && Math.abs(x) > 65504) continue;
        const ulp = 2 ** (Math.floor(Math.log2(Math.abs(x))) - (s === 'f16' ? 10 : 7));
        expect(Math.abs(r[i]! - x)).toBeLessThanOrEqual(ulp / 2);
      }
    }
  });
});

// ---- matmul --------------------------------------------------------------------------------

const SHAPES = [
  [3, 5, 7],
  [17, 33, 9],
] as const;
// Each storage in each role: the three uniform triples and three mixed ones.
const STORAGE_TRIPLES: [Storage, Storage, Storage][] = [
  ['f32', 'f32', 'f32'],
  ['f16', 'f16', 'f16'],
  ['bf16', 'bf16', 'bf16'],
  ['f16', 'f32', 'bf16'],
  ['bf16', 'f16', 'f32'],
  ['f32', 'bf16', 'f16'],
];
const MATMUL_CASES: MatmulCase[] = SHAPES.flatMap(([M, N, K]) =>
  TRANSPOSES.flatMap(([aT, bT]) => STORAGE_TRIPLES.map(([aS, bS, outS]) => ({ M, N, K, aT, bT, aS, bS, outS }))),
);

describe('matmul', () => {
  it.each(MATMUL_CASES)('$M×$N×$K aT=$aT bT=$bT A:$aS B:$bS out:$outS', async (c) => {
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 11 + c.M);
    const out = await fx.empty('out', storageBytes(c.M * c.N, c.outS), 'activations');
    fx.submit((enc) =>
      recordMatmul(fx.device, enc, {
        M: c.M, N: c.N, K: c.K,
        a: aBuf, aStorage: c.aS, aTransposed: c.aT,
        b: bBuf, bStorage: c.bS, bTransposed: c.bT,
        out, outStorage: c.outS,
      }),
    );
    const got = await readValues(out, c.M * c.N, c.outS);
    expectClose('out', got, ref, (i) => F32_REL * mag[i]! + OUT_REL[c.outS] * Math.abs(ref[i]!) + 1e-7);
  });

  it('writes 0 into the high half of the last word of an odd packed output', async () => {
    const c: MatmulCase = { M: 3, N: 5, K: 7, aT: false, bT: false, aS: 'f32', bS: 'f32', outS: 'bf16' };
    const { aBuf, bBuf } = await matmulOperands(fx, c, 5);
    const out = await fx.upload('out', Uint32Array.from({ length: 8 }, () => 0xffffffff));
    fx.submit((enc) => recordMatmul(fx.device, enc, { M: 3, N: 5, K: 7, a: aBuf, aStorage: 'f32', aTransposed: false, b: bBuf, bStorage: 'f32', bTransposed: false, out, outStorage: 'bf16' }));
    const words = await fx.read(out);
    expect(words[7]! >>> 16).toBe(0);
  });

  it.each([
    ['relu', 'f32', 'f32'],
    ['gelu', 'f32', 'f32'],
    ['relu', 'bf16', 'f16'],
    ['gelu', 'f16', 'bf16'],
  ] as const)('adds the bias and applies %s: pre in %s, act in %s', async (fn, preS, actS) => {
    for (const [M, N, K] of SHAPES) {
      const c: MatmulCase = { M, N, K, aT: false, bT: false, aS: 'f32', bS: preS === 'f32' ? 'f32' : 'bf16', outS: preS };
      const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 23);
      const biasValues = randoms(N, 29);
      const bias = await upload('bias', biasValues, 'f32');
      const pre = await fx.empty('pre', storageBytes(M * N, preS), 'activations');
      const actBuf = await fx.empty('act', storageBytes(M * N, actS), 'activations');
      fx.submit((enc) =>
        recordMatmul(fx.device, enc, {
          M, N, K, a: aBuf, aStorage: c.aS, aTransposed: false, b: bBuf, bStorage: c.bS, bTransposed: false,
          out: pre, outStorage: preS, bias, epilogue: { kind: 'activation', fn, act: actBuf, actStorage: actS },
        }),
      );
      const refPre = ref.map((v, i) => v + biasValues[i % N]!);
      const tolPre = (i: number) => F32_REL * (mag[i]! + Math.abs(biasValues[i % N]!)) + 1e-7;
      expectClose('pre', await readValues(pre, M * N, preS), refPre, (i) => tolPre(i) + OUT_REL[preS] * Math.abs(refPre[i]!));
      const refAct = refPre.map((v) => act(fn, v));
      // |fn'| ≤ 1.13 for gelu, so the pre error passes through at most 1.2×.
      expectClose('act', await readValues(actBuf, M * N, actS), refAct, (i) => 1.2 * tolPre(i) + OUT_REL[actS] * Math.abs(refAct[i]!) + 1e-7);
      fx.ledger.dispose();
    }
  });

  it.each([
    ['relu', 'f32', 'f32'],
    ['gelu', 'f32', 'f32'],
    ['relu', 'f16', 'bf16'],
    ['gelu', 'bf16', 'f16'],
  ] as const)('multiplies by %s′(pre): pre in %s, out in %s', async (fn, preS, outS) => {
    for (const [M, N, K] of SHAPES) {
      // dY·Wᵀ, the shape of the backward through a linear layer into its activation.
      const c: MatmulCase = { M, N, K, aT: false, bT: true, aS: 'f32', bS: 'f32', outS };
      const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 31);
      const preValues = roundToStorage(randoms(M * N, 37, -3, 3), preS);
      const pre = await upload('pre', preValues, preS);
      const out = await fx.empty('dPre', storageBytes(M * N, outS), 'activation-grads');
      fx.submit((enc) =>
        recordMatmul(fx.device, enc, {
          M, N, K, a: aBuf, aStorage: 'f32', aTransposed: false, b: bBuf, bStorage: 'f32', bTransposed: true,
          out, outStorage: outS, epilogue: { kind: 'activation-grad', fn, pre, preStorage: preS },
        }),
      );
      const want = ref.map((v, i) => v * actGrad(fn, preValues[i]!));
      expectClose('dPre', await readValues(out, M * N, outS), want, (i) => 1.2 * F32_REL * mag[i]! + OUT_REL[outS] * Math.abs(want[i]!) + 1e-6);
      fx.ledger.dispose();
    }
  });

  it.each(['relu', 'gelu'] as const)('the CPU derivative of %s matches its central differences', (fn) => {
    const h = 1e-5;
    for (let x = -5; x <= 5; x += 0.037) {
      if (fn === 'relu' && Math.abs(x) < 2 * h) continue;
      const fd = (act(fn, x + h) - act(fn, x - h)) / (2 * h);
      expect(Math.abs(fd - actGrad(fn, x)), `x=${x}`).toBeLessThan(1e-6);
    }
  });

  it.each(['relu', 'gelu'] as const)('the GPU derivative of %s matches central differences of the GPU activation', async (fn) => {
    // pre = 1·B + 0 with K = 1, so B sets pre directly; the activation-grad epilogue with
    // A·B = 1 returns fn'(pre) itself.
    const eps = 1e-2;
    const xs = Float32Array.from({ length: 41 }, (_, i) => -4 + 0.2 * i + 0.013);
    const n = xs.length;
    const one = await upload('one', Float32Array.of(1), 'f32');
    const ones = await upload('ones', new Float32Array(n).fill(1), 'f32');
    const xPlus = Float32Array.from(xs, (x) => x + eps);
    const xMinus = Float32Array.from(xs, (x) => x - eps);
    const outs: Record<string, GPUBuffer> = {};
    for (const [name, values] of [['plus', xPlus], ['minus', xMinus]] as const) {
      const b = await upload(name, values, 'f32');
      const pre = await fx.empty(`${name}.pre`, 4 * n, 'activations');
      outs[name] = await fx.empty(`${name}.act`, 4 * n, 'activations');
      fx.submit((enc) =>
        recordMatmul(fx.device, enc, {
          M: 1, N: n, K: 1, a: one, aStorage: 'f32', aTransposed: false, b, bStorage: 'f32', bTransposed: false,
          out: pre, outStorage: 'f32', epilogue: { kind: 'activation', fn, act: outs[name]!, actStorage: 'f32' },
        }),
      );
    }
    const pre = await upload('x', xs, 'f32');
    const grad = await fx.empty('grad', 4 * n, 'activation-grads');
    fx.submit((enc) =>
      recordMatmul(fx.device, enc, {
        M: 1, N: n, K: 1, a: one, aStorage: 'f32', aTransposed: false, b: ones, bStorage: 'f32', bTransposed: false,
        out: grad, outStorage: 'f32', epilogue: { kind: 'activation-grad', fn, pre, preStorage: 'f32' },
      }),
    );
    const plus = await readValues(outs.plus!, n, 'f32');
    const minus = await readValues(outs.minus!, n, 'f32');
    const fd = Float64Array.from(xs, (_, i) => (plus[i]! - minus[i]!) / (xPlus[i]! - xMinus[i]!));
    // Truncation ε²·|f‴|/6 (< 1e-4 for gelu; 0 for relu away from 0) plus f32 rounding of act / 2ε.
    expectClose('d act', await readValues(grad, n, 'f32'), fd, () => 5e-4);
  });
});

// ---- column sum ----------------------------------------------------------------------------

describe('column sum', () => {
  it.each([
    [1, 1],
    [3, 5],
    [17, 33],
    [64, 96],
    [9, 70],
  ])('sums the columns of %i×%i', async (rows, cols) => {
    const x = randoms(rows * cols, rows * 100 + cols);
    const xBuf = await upload('dY', x, 'f32');
    const out = await fx.empty('db', 4 * cols, 'gradients');
    fx.submit((enc) => recordColumnSum(fx.device, enc, { x: xBuf, rows, cols, out }));
    const want = new Float64Array(cols);
    const mag = new Float64Array(cols);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        want[j]! += x[i * cols + j]!;
        mag[j]! += Math.abs(x[i * cols + j]!);
      }
    expectClose('db', await readValues(out, cols, 'f32'), want, (j) => F32_REL * mag[j]! + 1e-7);
  });
});

// ---- MSE loss ------------------------------------------------------------------------------

describe('mse loss', () => {
  async function runLoss(y: Float32Array, yS: Storage, scale: number) {
    const n = y.length;
    const yBuf = await upload('y', y, yS);
    const loss = await fx.empty('loss', 4, 'workspace');
    const dy = await fx.empty('dy', 4 * n, 'activation-grads');
    const lossScale = await upload('scale', Float32Array.of(scale), 'f32');
    fx.submit((enc) => recordMseLoss(fx.device, enc, { y: yBuf, yStorage: yS, n, loss, dy, lossScale }));
    const value = (await readValues(loss, 1, 'f32'))[0]!;
    const grad = await readValues(dy, n, 'f32');
    for (const b of [yBuf, loss, dy, lossScale]) fx.ledger.destroy(b);
    return { value, grad };
  }

  it.each(STORAGES.flatMap((s) => [1, 7, 300, 1001].map((n) => [n, s] as const)))('n=%i in %s, vs the CPU', async (n, s) => {
    const y = roundToStorage(randoms(n, n, -2, 2), s);
    for (const scale of [1, 1024]) {
      const { value, grad } = await runLoss(y, s, scale);
      let sum = 0;
      for (const v of y) sum += v * v;
      expect(Math.abs(value - sum / n)).toBeLessThanOrEqual(F32_REL * (sum / n));
      expectClose('dy', grad, Float64Array.from(y, (v) => ((2 * v) / n) * scale), (i) => 1e-6 * Math.abs((2 * y[i]! * scale) / n) + 1e-12);
    }
  });

  it.each([7, 300])('dy matches central differences of the GPU loss, n=%i', async (n) => {
    const y = randoms(n, 3 * n, -2, 2);
    const { grad } = await runLoss(y, 'f32', 1);
    const h = 0.05;
    for (const i of [0, 1, Math.floor(n / 2), n - 1]) {
      const plus = Float32Array.from(y);
      const minus = Float32Array.from(y);
      plus[i]! += h;
      minus[i]! -= h;
      const lp = (await runLoss(plus, 'f32', 1)).value;
      const lm = (await runLoss(minus, 'f32', 1)).value;
      const fd = (lp - lm) / (plus[i]! - minus[i]!);
      // The loss is quadratic, so the difference is exact but for f32 rounding of L (~2^-24·L / h).
      expect(Math.abs(fd - grad[i]!), `i=${i}`).toBeLessThanOrEqual(2e-5 + 1e-3 * Math.abs(grad[i]!));
    }
  });
});

// ---- optimizers ----------------------------------------------------------------------------

interface Hyper {
  lr: number;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** PyTorch's updates (torch.optim.SGD, Adam, AdamW; foreach/fused agree with these), in f64. */
function cpuStep(kind: OptimizerKind, h: Hyper, t: number, p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array): void {
  const wd = h.weightDecay ?? 0;
  for (let i = 0; i < p.length; i++) {
    let gi = g[i]!;
    if (kind === 'sgd' || kind === 'sgd-momentum') {
      gi += wd * p[i]!;
      if (kind === 'sgd-momentum') {
        m[i] = t === 1 ? gi : h.momentum! * m[i]! + gi;
        gi = m[i]!;
      }
      p[i]! -= h.lr * gi;
      continue;
    }
    const b1 = h.beta1 ?? 0.9;
    const b2 = h.beta2 ?? 0.999;
    const eps = h.eps ?? 1e-8;
    if (kind === 'adamw') p[i]! *= 1 - h.lr * wd;
    else gi += wd * p[i]!;
    m[i] = b1 * m[i]! + (1 - b1) * gi;
    v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    p[i]! -= (h.lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps));
  }
}

describe('optimizers', () => {
  const CASES: [OptimizerKind, Hyper][] = [
    ['sgd', { lr: 0.1 }],
    ['sgd', { lr: 0.05, weightDecay: 0.01 }],
    ['sgd-momentum', { lr: 0.05, momentum: 0.9 }],
    ['sgd-momentum', { lr: 0.05, momentum: 0.8, weightDecay: 0.1 }],
    ['adam', { lr: 1e-2 }],
    ['adam', { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }],
    ['adamw', { lr: 1e-2, weightDecay: 0.1 }],
  ];

  it.each(CASES.flatMap(([kind, h]) => [37, 300].map((n) => [kind, n, h] as const)))('%s n=%i %o: 3 steps vs PyTorch', async (kind, n, h) => {
    // Grads arrive multiplied by a loss scale of 8 and are divided by it through hyper[7].
    const scale = 8;
    const p0 = randoms(n, n + 1);
    const params = await fx.upload('w', p0, 'master-weights');
    const grads = await fx.empty('w.grad', 4 * n, 'gradients');
    const m = kind === 'sgd' ? undefined : await fx.empty('w.m', 4 * n, 'optimizer');
    const v = kind === 'adam' || kind === 'adamw' ? await fx.empty('w.v', 4 * n, 'optimizer') : undefined;
    const hyper = await fx.empty('hyper', HYPER_BYTES, 'workspace');
    const p = Float64Array.from(p0);
    const cm = new Float64Array(n);
    const cv = new Float64Array(n);
    for (let t = 1; t <= 3; t++) {
      const g = randoms(n, 100 * t + n, -0.5, 0.5);
      fx.device.queue.writeBuffer(grads, 0, Float32Array.from(g, (x) => x * scale));
      writeHyper(fx.device.queue, hyper, { ...h, step: t, invLossScale: 1 / scale });
      fx.submit((enc) => recordOptimizerStep(fx.device, enc, { kind, n, params, grads, m, v, hyper }));
      // The CPU sees the f32 hyper-parameters the kernel sees.
      const hv = hyperValues({ ...h, step: t });
      const h32 = { lr: hv[0]!, momentum: hv[1]!, beta1: hv[1]!, beta2: hv[2]!, eps: hv[3]!, weightDecay: hv[4]! };
      cpuStep(kind, h32, t, p, Float64Array.from(g), cm, cv);
    }
    expectClose('params', await readValues(params, n, 'f32'), p, (i) => 1e-6 + 1e-5 * Math.abs(p[i]!));
    if (m) expectClose('m', await readValues(m, n, 'f32'), cm, (i) => 1e-7 + 1e-5 * Math.abs(cm[i]!));
    if (v) expectClose('v', await readValues(v, n, 'f32'), cv, (i) => 1e-9 + 1e-5 * Math.abs(cv[i]!));
  });

  // The trainer's fused launch: one dispatch over an arena of several tensors of odd sizes,
  // each checked against PyTorch on its own; the 16-bit copies written in the same dispatch
  // equal a cast of the updated values; the gaps between tensors stay zero.
  it.each(CASES.flatMap(([kind, h]) => (['f32', 'f16', 'bf16'] as const).map((s) => [kind, s, h] as const)))('%s, %s copies: one dispatch over an arena of tensors of 37, 1, 300 and 129 values, 3 steps vs PyTorch', async (kind, storage, h) => {
    const sizes = [37, 1, 300, 129];
    const withHalf = [true, false, true, true];
    const states = kind === 'sgd' ? 0 : kind === 'sgd-momentum' ? 1 : 2;
    const arena = new ParamArena(fx.device, fx.ledger, states, storage === 'f32' ? null : storage);
    const p0 = sizes.map((n, k) => randoms(n, 7 * k + n));
    const ts = [];
    for (const [k, n] of sizes.entries()) ts.push(await arena.add(`t${k}`, n, storage === 'f32' ? 'weights' : 'master-weights', withHalf[k]!, () => p0[k]!));
    await arena.allocate();
    expect(arena.chunks.length).toBe(1);
    const chunk = arena.chunks[0]!;
    // Every tensor is a ledger entry of its own bytes; its extent is what it takes in the arena.
    const entries = fx.ledger.entries();
    for (const [k, n] of sizes.entries()) expect(entries.find((e) => e.name === `t${k}`)).toMatchObject({ requested: 4 * n, allocated: ts[k]!.master.extent });
    const hyper = await fx.empty('hyper', HYPER_BYTES, 'workspace');
    const scale = 8;
    const p = p0.map((x) => Float64Array.from(x));
    const cm = sizes.map((n) => new Float64Array(n));
    const cv = sizes.map((n) => new Float64Array(n));
    const N = chunk.bytes / 4;
    for (let t = 1; t <= 3; t++) {
      for (const [k, n] of sizes.entries()) {
        const g = randoms(n, 100 * t + 13 * k, -0.5, 0.5);
        fx.device.queue.writeBuffer(chunk.grad!, ts[k]!.grad.offset, Float32Array.from(g, (x) => x * scale));
        const hv = hyperValues({ ...h, step: t });
        cpuStep(kind, { lr: hv[0]!, momentum: hv[1]!, beta1: hv[1]!, beta2: hv[2]!, eps: hv[3]!, weightDecay: hv[4]! }, t, p[k]!, Float64Array.from(g), cm[k]!, cv[k]!);
      }
      writeHyper(fx.device.queue, hyper, { ...h, step: t, invLossScale: 1 / scale });
      fx.submit((enc) => recordOptimizerStep(fx.device, enc, {
        kind, n: N, params: chunk.master!, grads: chunk.grad!, m: chunk.m ?? undefined, v: chunk.v ?? undefined, hyper,
        ...(storage !== 'f32' ? { half: { buffer: chunk.half!, storage } } : {}),
      }));
    }
    const all = new Float32Array((await fx.read(chunk.master!)).buffer);
    const allM = chunk.m ? new Float32Array((await fx.read(chunk.m)).buffer) : null;
    const allV = chunk.v ? new Float32Array((await fx.read(chunk.v)).buffer) : null;
    const halfWords = chunk.half ? await fx.read(chunk.half) : null;
    const inTensor = new Uint8Array(N);
    for (const [k, n] of sizes.entries()) {
      const at = ts[k]!.master.offset / 4;
      inTensor.fill(1, at, at + n);
      const got = all.subarray(at, at + n);
      expectClose(`t${k} params`, got, p[k]!, (i) => 1e-6 + 1e-5 * Math.abs(p[k]![i]!));
      if (allM) expectClose(`t${k} m`, allM.subarray(at, at + n), cm[k]!, (i) => 1e-7 + 1e-5 * Math.abs(cm[k]![i]!));
      if (allV) expectClose(`t${k} v`, allV.subarray(at, at + n), cv[k]!, (i) => 1e-9 + 1e-5 * Math.abs(cv[k]![i]!));
      if (halfWords && ts[k]!.half) {
        const words = halfWords.subarray(ts[k]!.half!.offset / 4, ts[k]!.half!.offset / 4 + Math.ceil(n / 2));
        expect([...words], `t${k} half`).toEqual([...packHalf(Float32Array.from(got), storage as 'f16' | 'bf16')]);
      }
    }
    expect(all.filter((x, i) => !inTensor[i] && x !== 0).length, 'gaps stay zero').toBe(0);
  });

  it('fp16: one finiteness check over an arena skips the update of every tensor when one gradient is not finite', async () => {
    const arena = new ParamArena(fx.device, fx.ledger, 2, 'f16');
    const sizes = [5, 77, 3];
    const p0 = sizes.map((n, k) => randoms(n, k + 1));
    const ts = [];
    for (const [k, n] of sizes.entries()) ts.push(await arena.add(`t${k}`, n, 'master-weights', true, () => p0[k]!));
    await arena.allocate();
    const chunk = arena.chunks[0]!;
    for (const [k, n] of sizes.entries()) {
      const g = randoms(n, 40 + k);
      if (k === 2) g[1] = Infinity;
      fx.device.queue.writeBuffer(chunk.grad!, ts[k]!.grad.offset, g);
    }
    const hyper = await fx.empty('hyper', HYPER_BYTES, 'workspace');
    const lossState = await fx.upload('lossState', initialLossState(), 'workspace');
    writeHyper(fx.device.queue, hyper, { lr: 0.1, step: 1 });
    const N = chunk.bytes / 4;
    fx.submit((enc) => {
      recordCheckFinite(fx.device, enc, { grads: chunk.grad!, n: N, lossState });
      recordOptimizerStep(fx.device, enc, { kind: 'adam', n: N, params: chunk.master!, grads: chunk.grad!, m: chunk.m!, v: chunk.v!, hyper, lossState, half: { buffer: chunk.half!, storage: 'f16' } });
      recordUpdateLossScale(fx.device, enc, { lossState, growthInterval: 2000 });
    });
    const all = new Float32Array((await fx.read(chunk.master!)).buffer);
    for (const [k, n] of sizes.entries()) expect([...all.subarray(ts[k]!.master.offset / 4, ts[k]!.master.offset / 4 + n)]).toEqual([...p0[k]!]);
    expect(new Float32Array((await fx.read(lossState)).buffer)[0]).toBe(32768);
  });

  it('writes nothing when hyper[8] asks to skip', async () => {
    const n = 5;
    const p0 = randoms(n, 1);
    const params = await fx.upload('w', p0, 'master-weights');
    const grads = await fx.upload('w.grad', randoms(n, 2), 'gradients');
    const m = await fx.empty('w.m', 4 * n, 'optimizer');
    const v = await fx.empty('w.v', 4 * n, 'optimizer');
    const hyper = await fx.empty('hyper', HYPER_BYTES, 'workspace');
    writeHyper(fx.device.queue, hyper, { lr: 0.1, step: 1, skip: true });
    fx.submit((enc) => recordOptimizerStep(fx.device, enc, { kind: 'adam', n, params, grads, m, v, hyper }));
    expect([...(await readValues(params, n, 'f32'))]).toEqual([...p0]);
    expect([...(await readValues(m, n, 'f32'))]).toEqual(new Array(n).fill(0));
  });
});

// ---- dynamic loss scaling ----------------------------------------------------------------------

describe('dynamic loss scaling', () => {
  async function readState(lossState: GPUBuffer) {
    const words = await fx.read(lossState);
    return { scale: new Float32Array(words.buffer)[0]!, counter: words[1]!, foundInf: words[2]!, skipped: words[3]! };
  }

  it.each([Infinity, -Infinity, NaN])('skips the step on a %s grad, halves the scale, and doubles it after growthInterval finite steps', async (bad) => {
    const n = 37;
    const growthInterval = 3;
    const lr = 0.5;
    const p0 = randoms(n, 4);
    const params = await fx.upload('w', p0, 'master-weights');
    const other = await fx.upload('b.grad', randoms(n, 6), 'gradients'); // a second, finite tensor
    const grads = await fx.empty('w.grad', 4 * n, 'gradients');
    const hyper = await fx.empty('hyper', HYPER_BYTES, 'workspace');
    const lossState = await fx.upload('lossState', initialLossState(), 'workspace');
    expect(lossState.size).toBe(LOSS_STATE_BYTES);
    writeHyper(fx.device.queue, hyper, { lr, step: 1 });

    const step = (g: Float32Array) => {
      fx.device.queue.writeBuffer(grads, 0, g);
      fx.submit((enc) => {
        recordCheckFinite(fx.device, enc, { grads: other, n, lossState });
        recordCheckFinite(fx.device, enc, { grads, n, lossState });
        recordOptimizerStep(fx.device, enc, { kind: 'sgd', n, params, grads, hyper, lossState });
        recordUpdateLossScale(fx.device, enc, { lossState, growthInterval });
      });
    };

    const poisoned = randoms(n, 5);
    poisoned[20] = bad;
    step(poisoned);
    expect(await readState(lossState)).toEqual({ scale: 32768, counter: 0, foundInf: 0, skipped: 1 });
    expect([...(await readValues(params, n, 'f32'))]).toEqual([...p0]);

    // Finite steps: the grads are divided by the current scale (32768) and applied.
    const p = Float64Array.from(p0);
    for (let s = 1; s <= growthInterval; s++) {
      const g = randoms(n, 50 + s);
      step(Float32Array.from(g, (x) => x * 32768));
      for (let i = 0; i < n; i++) p[i]! -= lr * g[i]!;
      const state = await readState(lossState);
      if (s < growthInterval) expect(state).toEqual({ scale: 32768, counter: s, foundInf: 0, skipped: 1 });
      else expect(state).toEqual({ scale: 65536, counter: 0, foundInf: 0, skipped: 1 });
    }
    expectClose('params', await readValues(params, n, 'f32'), p, (i) => 1e-6 + 1e-6 * Math.abs(p[i]!));
  });

  it('scales dy by the lossState scale when the loss reads it', async () => {
    const n = 9;
    const y = randoms(n, 8);
    const yBuf = await upload('y', y, 'f32');
    const loss = await fx.empty('loss', 4);
    const dy = await fx.empty('dy', 4 * n);
    const lossState = await fx.upload('lossState', initialLossState(1024));
    fx.submit((enc) => recordMseLoss(fx.device, enc, { y: yBuf, yStorage: 'f32', n, loss, dy, lossScale: lossState }));
    expectClose('dy', await readValues(dy, n, 'f32'), Float64Array.from(y, (v) => (2 * v * 1024) / n), (i) => 1e-6 * Math.abs((2 * y[i]! * 1024) / n));
  });
});

// ---- dispatch split ------------------------------------------------------------------------

describe('dispatch split', () => {
  it('covers every element when maxComputeWorkgroupsPerDimension forces a y dimension', async () => {
    // A view of the device that allows 3 workgroups per dimension, so 4+ groups become x=3, y≥2.
    const real = fx.device;
    const small = new Proxy(real, {
      get(target, key) {
        if (key === 'limits') return { ...limitsOf(target), maxComputeWorkgroupsPerDimension: 3 };
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    expect(dispatchGrid(small, 5)).toEqual([3, 2]);
    expect(dispatchGrid(small, 9)).toEqual([3, 3]);
    expect(() => dispatchGrid(small, 10)).toThrow(RangeError);

    const c: MatmulCase = { M: 17, N: 33, K: 9, aT: false, bT: false, aS: 'f32', bS: 'f32', outS: 'f16' }; // 281 words: 5 groups
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 3);
    const out = await fx.empty('out', storageBytes(17 * 33, 'f16'));
    const n = 1001; // cast: 501 pairs, 2 groups of 256; loss grad: 4 groups
    const x = randoms(n, 9);
    const src = await upload('x', x, 'f32');
    const half = await fx.empty('x.half', storageBytes(n, 'bf16'));
    const loss = await fx.empty('loss', 4);
    const dy = await fx.empty('dy', 4 * n);
    const scale = await upload('scale', Float32Array.of(1), 'f32');
    const cols = 7 * 32 + 3; // column sum: 8 groups of 32 columns, x=3, y=3 with one spare
    const db = await fx.empty('db', 4 * cols);
    fx.submit((enc) => {
      recordMatmul(small, enc, { M: 17, N: 33, K: 9, a: aBuf, aStorage: 'f32', aTransposed: false, b: bBuf, bStorage: 'f32', bTransposed: false, out, outStorage: 'f16' });
      recordCast(small, enc, { src, srcStorage: 'f32', dst: half, dstStorage: 'bf16', n });
      recordMseLoss(small, enc, { y: src, yStorage: 'f32', n, loss, dy, lossScale: scale });
      recordColumnSum(small, enc, { x: src, rows: 4, cols, out: db });
    });
    expectClose('out', await readValues(out, 17 * 33, 'f16'), ref, (i) => F32_REL * mag[i]! + OUT_REL.f16 * Math.abs(ref[i]!) + 1e-7);
    expect([...(await fx.read(half))]).toEqual([...packHalf(x, 'bf16')]);
    expectClose('dy', await readValues(dy, n, 'f32'), Float64Array.from(x, (v) => (2 * v) / n), () => 1e-9);
    const want = Float64Array.from({ length: cols }, (_, j) => x[j]! + x[cols + j]! + x[2 * cols + j]! + x[3 * cols + j]!);
    expectClose('db', await readValues(db, cols, 'f32'), want, () => 1e-6);
  });
});

function limitsOf(device: GPUDevice): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in device.limits) out[key] = (device.limits as unknown as Record<string, number>)[key]!;
  return out;
}

// ---- cast ----------------------------------------------------------------------------------

describe('cast', () => {
  const SPECIAL = [0, -0, 1, -2, 0.1, 65504, 65519, 65520, 1e5, 2 ** -24, 2 ** -25, 3e-8, 1e-10, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 3.4e38, Infinity, -Infinity, NaN];

  function castInput(n: number): Float32Array {
    const r = rng(n);
    const x = Float32Array.from({ length: n }, () => (r() - 0.5) * 10 ** (r() * 16 - 10));
    x.set(SPECIAL.slice(0, n));
    return x;
  }

  it.each((['f16', 'bf16'] as const).flatMap((s) => [1, 2, 7, 19, 64, 301].map((n) => [n, s] as const)))(
    'n=%i: f32 → %s → f32 matches packHalf/unpackHalf bit for bit',
    async (n, s) => {
      const x = castInput(n);
      const src = await upload('x', x, 'f32');
      const half = await fx.empty('x.half', storageBytes(n, s), 'weights');
      const back = await fx.empty('x.back', 4 * n, 'workspace');
      fx.submit((enc) => {
        recordCast(fx.device, enc, { src, srcStorage: 'f32', dst: half, dstStorage: s, n });
        recordCast(fx.device, enc, { src: half, srcStorage: s, dst: back, dstStorage: 'f32', n });
      });
      const words = packHalf(x, s);
      expect([...(await fx.read(half))].map((w) => w.toString(16))).toEqual([...words].map((w) => w.toString(16)));
      const want = new Uint32Array(unpackHalf(words, n, s).buffer);
      expect([...(await fx.read(back))].map((w) => w.toString(16))).toEqual([...want].map((w) => w.toString(16)));
    },
  );

  it.each([
    ['f16', 'bf16'],
    ['bf16', 'f16'],
    ['f32', 'f32'],
  ] as const)('n=7: %s → %s', async (from, to) => {
    const n = 7;
    const x = roundToStorage(castInput(n), from);
    const src = await upload('x', x, from);
    const dst = await fx.empty('y', storageBytes(n, to), 'workspace');
    fx.submit((enc) => recordCast(fx.device, enc, { src, srcStorage: from, dst, dstStorage: to, n }));
    expect([...(await fx.read(dst))]).toEqual([...encodeStorage(x, to)]);
  });
});
