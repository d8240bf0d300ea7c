/**
 * The CNN kernels (Conv2d, BatchNorm2d, ReLU, max and global average pooling) against the
 * plain CPU references of test/helpers/cnn-reference.ts in f64, over odd shapes (words of
 * packed 16-bit storage straddle channels and rows) and every storage; each backward against
 * the CPU backward, which is itself checked against central finite differences of the CPU
 * forward here.
 *
 * Tolerances (|gpu − ref| ≤ tol; the reference reads the same storage-rounded inputs):
 *   conv y, dx, dw, db        2e-6 × Σ|terms| (f32 sums) + one ulp of y's storage
 *   BatchNorm y               1e-5 × (1 + |x̂|)·|γ| + ulp;   stats 1e-5 relative
 *   BatchNorm dx, dγ, dβ      2e-5 × Σ|dz|-scaled terms (see bnTol)
 *   relu, max pool            exact (a select, then the storage's rounding on both sides)
 *   average pool              1e-6 × Σ|x|/HW + ulp
 *   finite differences (f64)  1e-6 × (1 + |g|)
 */
import { describe, expect, it } from 'vitest';
import { recordBatchNorm, recordBatchNormBackward } from '../../src/engine/kernels/batchnorm.ts';
import { convOutSide, recordConv, recordConvBackwardInput, recordConvBackwardWeight } from '../../src/engine/kernels/conv.ts';
import { recordAvgPool, recordAvgPoolBackward, recordMaxPool, recordMaxPoolBackward } from '../../src/engine/kernels/pool.ts';
import { recordRelu, recordReluBackward } from '../../src/engine/kernels/relu.ts';
import { STORAGES, decodeStorage, encodeStorage, roundToStorage, storageBytes, type Storage } from '../../src/engine/kernels/storage.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms } from '../helpers/random.ts';
import { OUT_REL, expectClose } from '../helpers/reference.ts';
import {
  type BnRef,
  type ConvRef,
  avgPoolRef,
  bnBackwardRef,
  bnForwardRef,
  convBackwardRef,
  convForwardRef,
  finiteDifferences,
  maxPoolBackwardRef,
  maxPoolRef,
} from '../helpers/cnn-reference.ts';

const fx = useGpuFixture('test.kernels-cnn');

async function upload(name: string, values: Float32Array, s: Storage = 'f32'): Promise<GPUBuffer> {
  return fx.upload(name, encodeStorage(values, s));
}

async function readValues(buffer: GPUBuffer, n: number, s: Storage = 'f32'): Promise<Float32Array> {
  return decodeStorage(await fx.read(buffer), n, s);
}

const CONVS: (ConvRef & { bias: boolean })[] = [
  { N: 2, cin: 3, H: 7, W: 5, cout: 5, k: 3, stride: 1, pad: 1, bias: true },
  { N: 1, cin: 2, H: 9, W: 8, cout: 3, k: 3, stride: 2, pad: 1, bias: false },
  { N: 3, cin: 1, H: 6, W: 7, cout: 3, k: 5, stride: 1, pad: 2, bias: true },
  { N: 2, cin: 3, H: 5, W: 5, cout: 2, k: 1, stride: 2, pad: 0, bias: false },
];

describe('Conv2d', () => {
  // Every shape in f32 and in one 16-bit storage (they alternate), to keep the pipelines few.
  const cases = CONVS.flatMap((g, i) => (['f32', i % 2 ? 'bf16' : 'f16'] as const).map((s) => ({ ...g, s })));
  it.each(cases)('forward %j', async ({ s, bias, ...g }) => {
    const OH = convOutSide(g.H, g.k, g.stride, g.pad);
    const OW = convOutSide(g.W, g.k, g.stride, g.pad);
    const x = roundToStorage(randoms(g.N * g.cin * g.H * g.W, 1), s);
    const w = roundToStorage(randoms(g.cout * g.cin * g.k * g.k, 2), s);
    const b = randoms(g.cout, 3);
    const yN = g.N * g.cout * OH * OW;
    const [xb, wb, bb, yb] = [await upload('x', x, s), await upload('w', w, s), await upload('b', b), await fx.empty('y', storageBytes(yN, s))];
    fx.submit((e) => recordConv(fx.device, e, { ...g, x: xb, xStorage: s, w: wb, wStorage: s, y: yb, yStorage: s, ...(bias ? { bias: bb } : {}) }));
    const ref = convForwardRef(g, x, w, bias ? b : undefined);
    expectClose('y', await readValues(yb, yN, s), ref.y, (i) => 2e-6 * ref.abs[i]! + OUT_REL[s] * Math.abs(ref.y[i]!));
  });

  it.each(cases)('backward %j', async ({ s, bias, ...g }) => {
    const OH = convOutSide(g.H, g.k, g.stride, g.pad);
    const OW = convOutSide(g.W, g.k, g.stride, g.pad);
    const xN = g.N * g.cin * g.H * g.W;
    const wN = g.cout * g.cin * g.k * g.k;
    const x = roundToStorage(randoms(xN, 4), s);
    const w = roundToStorage(randoms(wN, 5), s);
    const dy = randoms(g.N * g.cout * OH * OW, 6);
    const prior = randoms(xN, 7);
    const [xb, wb, dyb] = [await upload('x', x, s), await upload('w', w, s), await upload('dy', dy)];
    const dx = await fx.empty('dx', 4 * xN);
    const dxAcc = await upload('dxAcc', prior);
    const dw = await fx.empty('dw', 4 * wN);
    const db = await fx.empty('db', 4 * g.cout);
    fx.submit((e) => {
      recordConvBackwardInput(fx.device, e, { ...g, dy: dyb, w: wb, wStorage: s, dx, accumulate: false });
      recordConvBackwardInput(fx.device, e, { ...g, dy: dyb, w: wb, wStorage: s, dx: dxAcc, accumulate: true });
      recordConvBackwardWeight(fx.device, e, { ...g, dy: dyb, x: xb, xStorage: s, dw, ...(bias ? { db } : {}) });
    });
    const ref = convBackwardRef(g, x, w, dy);
    expectClose('dx', await readValues(dx, xN), ref.dx, (i) => 2e-6 * ref.dxAbs[i]!);
    expectClose('dx (accumulated)', await readValues(dxAcc, xN), ref.dx.map((v, i) => v + prior[i]!), (i) => 2e-6 * (ref.dxAbs[i]! + Math.abs(prior[i]!)));
    expectClose('dw', await readValues(dw, wN), ref.dw, (i) => 2e-6 * ref.dwAbs[i]!);
    if (bias) expectClose('db', await readValues(db, g.cout), ref.db, (i) => 2e-6 * ref.dbAbs[i]!);
  });

  it.each(CONVS)('the CPU backward is the derivative of the CPU forward (finite differences) %j', (g) => {
    const x = randoms(g.N * g.cin * g.H * g.W, 8);
    const w = randoms(g.cout * g.cin * g.k * g.k, 9);
    const b = randoms(g.cout, 10);
    const r = randoms(g.N * g.cout * convOutSide(g.H, g.k, g.stride, g.pad) * convOutSide(g.W, g.k, g.stride, g.pad), 11);
    const ref = convBackwardRef(g, x, w, r);
    const pick = (n: number) => [0, Math.floor(n / 3), Math.floor(n / 2), n - 1];
    for (const [i, fd] of finiteDifferences((v) => convForwardRef(g, v, w, b).y, x, r, pick(x.length))) expect(Math.abs(fd - ref.dx[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
    for (const [i, fd] of finiteDifferences((v) => convForwardRef(g, x, v, b).y, w, r, pick(w.length))) expect(Math.abs(fd - ref.dw[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
    for (const [i, fd] of finiteDifferences((v) => convForwardRef(g, x, w, v).y, b, r, pick(b.length))) expect(Math.abs(fd - ref.db[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
  });

  it('refuses a kernel that does not fit and a pad of k or more, in one line', async () => {
    const b = await fx.empty('b', 64);
    const enc = fx.device.createCommandEncoder();
    const base = { N: 1, cin: 1, H: 2, W: 2, cout: 1, k: 5, stride: 1, pad: 0, x: b, xStorage: 'f32' as const, w: b, wStorage: 'f32' as const, y: b, yStorage: 'f32' as const };
    expect(() => recordConv(fx.device, enc, base)).toThrow(/does not fit a 2×2 input/);
    expect(() => recordConv(fx.device, enc, { ...base, k: 3, pad: 3 })).toThrow(/pad must be an integer in \[0, k\)/);
    enc.finish();
  });
});

const BNS: BnRef[] = [
  { N: 3, C: 5, HW: 7 },
  { N: 1, C: 2, HW: 300 },
];
const BN_KINDS = ['plain', 'relu', 'relu+res'] as const;

describe('BatchNorm2d (training mode)', () => {
  // The first shape in every kind and storage; the others (more lanes than values, and a
  // channel longer than a workgroup) in f32 and one 16-bit storage.
  const cases = BNS.flatMap((sh, i) => BN_KINDS.flatMap((kind) => (i === 0 ? STORAGES : (['f32', i % 2 ? 'bf16' : 'f16'] as const)).map((s) => ({ ...sh, kind, s }))));
  it.each(cases)('forward, running statistics and backward %j', async ({ kind, s, ...sh }) => {
    const n = sh.N * sh.C * sh.HW;
    const relu = kind !== 'plain';
    const x = roundToStorage(randoms(n, 12, -2, 3), s);
    const res = roundToStorage(randoms(n, 13), s);
    const affine = Float32Array.from([...randoms(sh.C, 14, 0.5, 1.5), ...randoms(sh.C, 15)]);
    const running = Float32Array.from([...randoms(sh.C, 16), ...randoms(sh.C, 17, 0.5, 2)]);
    const dyv = randoms(n, 18);
    const [xb, rb, ab, runb, dyb] = [await upload('x', x, s), await upload('res', res, s), await upload('affine', affine), await upload('running', running), await upload('dy', dyv)];
    const stats = await fx.empty('stats', 8 * sh.C);
    const y = await fx.empty('y', storageBytes(n, s));
    const dx = await fx.empty('dx', 4 * n);
    const daffine = await fx.empty('daffine', 8 * sh.C);
    const dres = await fx.empty('dres', 4 * n);
    const withRes = kind === 'relu+res';
    fx.submit((e) => {
      recordBatchNorm(fx.device, e, { ...sh, x: xb, xStorage: s, affine: ab, stats, running: runb, updateRunning: true, y, yStorage: s, relu, ...(withRes ? { residual: { buffer: rb, storage: s } } : {}) });
      recordBatchNormBackward(fx.device, e, { ...sh, x: xb, xStorage: s, affine: ab, stats, dy: dyb, dx, daffine, ...(relu ? { relu: { y, yStorage: s } } : {}), ...(withRes ? { dres } : {}) });
    });
    const ref = bnForwardRef(sh, x, affine, relu, withRes ? res : undefined);
    const gotY = await readValues(y, n, s);
    const xh = (j: number) => {
      const c = Math.floor(j / sh.HW) % sh.C;
      return (x[j]! - ref.mean[c]!) * ref.rstd[c]!;
    };
    const cOf = (j: number) => Math.floor(j / sh.HW) % sh.C;
    expectClose('y', gotY, ref.y, (j) => 1e-5 * (1 + Math.abs(xh(j))) * Math.abs(affine[cOf(j)]!) + 1e-6 + OUT_REL[s] * Math.abs(ref.y[j]!));
    const st = await readValues(stats, 2 * sh.C);
    expectClose('mean', st.subarray(0, sh.C), ref.mean, (c) => 1e-5 * (1 + Math.abs(ref.mean[c]!)));
    expectClose('rstd', st.subarray(sh.C), ref.rstd, (c) => 1e-5 * ref.rstd[c]!);
    const run = await readValues(runb, 2 * sh.C);
    const wantRun = [...ref.mean.map((m, c) => 0.9 * running[c]! + 0.1 * m), ...ref.unbiased.map((v, c) => 0.9 * running[sh.C + c]! + 0.1 * v)];
    expectClose('running', run, wantRun, (i) => 1e-5 * (1 + Math.abs(wantRun[i]!)));
    // The backward reads the y the GPU stored (its mask), as the reference computes it: where
    // a 16-bit y rounds to 0 the two could disagree, so the reference gets the stored mask.
    const g = bnBackwardRef(sh, x, affine, Float32Array.from(dyv, (d, j) => (relu && !(gotY[j]! > 0) ? 0 : d)), false);
    const scale = Math.max(...dyv.map(Math.abs));
    expectClose('daffine', await readValues(daffine, 2 * sh.C), g.daffine, () => 2e-5 * scale * sh.N * sh.HW * 3);
    expectClose('dx', await readValues(dx, n), g.dx, (j) => 2e-5 * scale * 4 * Math.abs(affine[cOf(j)]!) * ref.rstd[cOf(j)]! * (1 + Math.abs(xh(j))));
    if (withRes) expectClose('dres', await readValues(dres, n), g.dres, () => 0);
  });

  it.each(BN_KINDS)('the CPU backward is the derivative of the CPU forward (finite differences): %s', (kind) => {
    const sh = { N: 2, C: 3, HW: 5 };
    const n = sh.N * sh.C * sh.HW;
    const x = randoms(n, 19, -2, 2);
    const res = randoms(n, 20);
    const affine = Float32Array.from([...randoms(sh.C, 21, 0.5, 1.5), ...randoms(sh.C, 22)]);
    const r = randoms(n, 23);
    const relu = kind !== 'plain';
    const rs = kind === 'relu+res' ? res : undefined;
    const g = bnBackwardRef(sh, x, affine, r, relu, rs);
    const idx = [0, 4, 11, 17, n - 1];
    for (const [i, fd] of finiteDifferences((v) => bnForwardRef(sh, v, affine, relu, rs).y, x, r, idx)) expect(Math.abs(fd - g.dx[i]!), `dx[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
    for (const [i, fd] of finiteDifferences((v) => bnForwardRef(sh, x, v, relu, rs).y, affine, r, [0, 1, 2, 3, 4, 5])) expect(Math.abs(fd - g.daffine[i]!), `daffine[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
    if (rs) for (const [i, fd] of finiteDifferences((v) => bnForwardRef(sh, x, affine, relu, v).y, rs, r, idx)) expect(Math.abs(fd - g.dres[i]!), `dres[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(fd)));
  });
});

describe('ReLU and pooling', () => {
  it.each(STORAGES)('ReLU forward and backward in %s (odd length)', async (s) => {
    const n = 37;
    const x = roundToStorage(randoms(n, 24), s);
    const dyv = randoms(n, 25);
    const [xb, dyb] = [await upload('x', x, s), await upload('dy', dyv)];
    const y = await fx.empty('y', storageBytes(n, s));
    const dx = await fx.empty('dx', 4 * n);
    fx.submit((e) => {
      recordRelu(fx.device, e, { n, x: xb, xStorage: s, y, yStorage: s });
      recordReluBackward(fx.device, e, { n, y, yStorage: s, dy: dyb, dx });
    });
    expectClose('y', await readValues(y, n, s), x.map((v) => Math.max(v, 0)), () => 0);
    expectClose('dx', await readValues(dx, n), dyv.map((d, i) => (x[i]! > 0 ? d : 0)), () => 0);
  });

  const POOLS = [
    { N: 2, C: 3, H: 7, W: 5 },
    { N: 1, C: 5, H: 4, W: 6 },
  ];
  it.each(POOLS.flatMap((p) => STORAGES.map((s) => ({ ...p, s }))))('max pool 2×2/2 forward and backward (argmax found again) %j', async ({ s, ...p }) => {
    const n = p.N * p.C * p.H * p.W;
    const outN = p.N * p.C * Math.floor(p.H / 2) * Math.floor(p.W / 2);
    const x = roundToStorage(randoms(n, 26), s);
    const dyv = randoms(outN, 27);
    const [xb, dyb] = [await upload('x', x, s), await upload('dy', dyv)];
    const y = await fx.empty('y', storageBytes(outN, s));
    const dx = await fx.empty('dx', 4 * n);
    fx.submit((e) => {
      recordMaxPool(fx.device, e, { ...p, x: xb, xStorage: s, y, yStorage: s });
      recordMaxPoolBackward(fx.device, e, { ...p, x: xb, xStorage: s, dy: dyb, dx });
    });
    expectClose('y', await readValues(y, outN, s), maxPoolRef(p.N, p.C, p.H, p.W, x).y, () => 0);
    expectClose('dx', await readValues(dx, n), maxPoolBackwardRef(p.N, p.C, p.H, p.W, x, dyv), () => 0);
  });

  it('max pool gives a tied window’s gradient to its first maximum only, as PyTorch does', async () => {
    const x = Float32Array.from([1, 3, 3, 0]);
    const xb = await upload('x', x);
    const dyb = await upload('dy', Float32Array.from([5]));
    const dx = await fx.empty('dx', 16);
    fx.submit((e) => recordMaxPoolBackward(fx.device, e, { N: 1, C: 1, H: 2, W: 2, x: xb, xStorage: 'f32', dy: dyb, dx }));
    expect([...(await readValues(dx, 4))]).toEqual([0, 5, 0, 0]);
  });

  it.each(STORAGES)('global average pool forward and backward in %s', async (s) => {
    const p = { N: 3, C: 5, H: 3, W: 3 };
    const HW = p.H * p.W;
    const n = p.N * p.C * HW;
    const x = roundToStorage(randoms(n, 28), s);
    const dyv = randoms(p.N * p.C, 29);
    const [xb, dyb] = [await upload('x', x, s), await upload('dy', dyv)];
    const y = await fx.empty('y', storageBytes(p.N * p.C, s));
    const dx = await fx.empty('dx', 4 * n);
    fx.submit((e) => {
      recordAvgPool(fx.device, e, { ...p, x: xb, xStorage: s, y, yStorage: s });
      recordAvgPoolBackward(fx.device, e, { ...p, dy: dyb, dx });
    });
    const ref = avgPoolRef(p.N, p.C, HW, x);
    expectClose('y', await readValues(y, p.N * p.C, s), ref, (i) => 1e-6 + OUT_REL[s] * Math.abs(ref[i]!));
    expectClose('dx', await readValues(dx, n), Float32Array.from({ length: n }, (_, i) => dyv[Math.floor(i / HW)]! / HW), (i) => 1e-7 * Math.abs(dyv[Math.floor(i / HW)]!));
  });
});
