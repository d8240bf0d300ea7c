/**
 * The Llama-style decoder's own kernels against plain CPU references in f64 (from the same
 * rounded inputs the kernels read), over odd shapes and f32/f16/bf16 storage, and each
 * backward against central differences of the GPU forward (f32):
 *   RMSNorm   y = x·rstd·γ, rstd = 1/sqrt(mean(x²) + eps); dx, dγ
 *   RoPE      rotate_half rotation of the q and k heads of a qkv row (v copied); the inverse
 *             (backward) undoes the forward
 *   SwiGLU    act = silu(gate)·up from [gate | up] rows; dGate, dUp
 *   the embedding with no position table (rotary models): out = token row; dToken only
 *
 * Tolerances (|gpu − ref| ≤ tol): F32_REL·mag + OUT_REL(storage)·|ref| + 1e-7, mag the sum of
 * the absolute terms (as in reference.ts); RoPE: (2^-11 + 1e-6·(1 + pos))·(|x| + |x'|), WGSL's
 * bound on cos and sin in [−π, π] (SwiftShader's are ≈ 2^-14) plus the f32 error of the angle
 * that grows with the position; finite differences
 * (h = 1e-2) 5e-4 + 1e-2·|fd|.
 */
import { describe, expect, it } from 'vitest';
import { recordEmbedding, recordEmbeddingBackward } from '../../src/engine/kernels/embedding.ts';
import { recordRmsNorm, recordRmsNormBackward } from '../../src/engine/kernels/layernorm.ts';
import { recordRope } from '../../src/engine/kernels/rope.ts';
import { decodeStorage, encodeStorage, roundToStorage, storageBytes, type Storage } from '../../src/engine/kernels/storage.ts';
import { recordSwiglu, recordSwigluBackward } from '../../src/engine/kernels/swiglu.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms } from '../helpers/random.ts';
import { F32_REL, OUT_REL, expectClose } from '../helpers/reference.ts';

const fx = useGpuFixture('test.kernels-llama');
const STORAGES: Storage[] = ['f32', 'f16', 'bf16'];
const EPS = 1e-5;

/** Central differences of Σ w⊙f(x) at a few indices; f runs the GPU forward. */
async function finiteDifferences(x: Float32Array, w: Float32Array, picks: number[], f: (x: Float32Array) => Promise<Float32Array>): Promise<number[]> {
  const h = 1e-2;
  const objective = (y: Float32Array) => y.reduce((acc, v, i) => acc + v * w[i]!, 0);
  const out: number[] = [];
  for (const i of picks) {
    const plus = Float32Array.from(x);
    const minus = Float32Array.from(x);
    plus[i]! += h;
    minus[i]! -= h;
    out.push((objective(await f(plus)) - objective(await f(minus))) / (plus[i]! - minus[i]!));
  }
  return out;
}

function expectFd(name: string, fd: number[], grad: ArrayLike<number>, picks: number[]): void {
  picks.forEach((i, k) => expect(Math.abs(fd[k]! - grad[i]!), `${name}[${i}]: fd ${fd[k]}, grad ${grad[i]}`).toBeLessThanOrEqual(5e-4 + 1e-2 * Math.abs(fd[k]!)));
}

// ---- RMSNorm -----------------------------------------------------------------------------------

function cpuRms(x: Float32Array, g: Float32Array, rows: number, cols: number, dy?: Float32Array) {
  const y = new Float64Array(rows * cols);
  const rstd = new Float64Array(rows);
  const dx = new Float64Array(rows * cols);
  const dg = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let j = 0; j < cols; j++) q += x[r * cols + j]! ** 2;
    const rs = 1 / Math.sqrt(q / cols + EPS);
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) y[r * cols + j] = x[r * cols + j]! * rs * g[j]!;
    if (!dy) continue;
    let m = 0;
    for (let j = 0; j < cols; j++) m += dy[r * cols + j]! * g[j]! * x[r * cols + j]! * rs;
    m /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = x[r * cols + j]! * rs;
      dx[r * cols + j] = rs * (dy[r * cols + j]! * g[j]! - xhat * m);
      dg[j]! += dy[r * cols + j]! * xhat;
    }
  }
  return { y, rstd, dx, dg };
}

async function gpuRms(x: Float32Array, g: Float32Array, rows: number, cols: number, s: Storage, dy?: Float32Array) {
  const xb = await fx.upload('x', encodeStorage(x, s));
  const gb = await fx.upload('gamma', g);
  const yb = await fx.empty('y', storageBytes(rows * cols, s));
  const rb = await fx.empty('rstd', 4 * rows);
  fx.submit((enc) => recordRmsNorm(fx.device, enc, { x: xb, xStorage: s, gamma: gb, y: yb, yStorage: s, rstd: rb, rows, cols, eps: EPS }));
  const out: Record<'y' | 'rstd' | 'dx' | 'dg', Float32Array> = { y: decodeStorage(await fx.read(yb), rows * cols, s), rstd: new Float32Array((await fx.read(rb)).buffer), dx: new Float32Array(0), dg: new Float32Array(0) };
  if (dy) {
    const dyb = await fx.upload('dy', dy);
    const dxb = await fx.upload('dx', new Float32Array(rows * cols).fill(NaN));
    const dgb = await fx.upload('dGamma', new Float32Array(cols).fill(NaN));
    fx.submit((enc) => recordRmsNormBackward(fx.device, enc, { dy: dyb, x: xb, xStorage: s, gamma: gb, rstd: rb, rows, cols, dx: dxb, dGamma: dgb }));
    out.dx = new Float32Array((await fx.read(dxb)).buffer);
    out.dg = new Float32Array((await fx.read(dgb)).buffer);
  }
  fx.ledger.dispose();
  return out;
}

describe('RMSNorm', () => {
  const shapes = [
    { rows: 1, cols: 1 },
    { rows: 3, cols: 7 },
    { rows: 5, cols: 129 },
  ];
  it.each(shapes.flatMap((sh) => STORAGES.map((s) => ({ ...sh, s }))))('rows=$rows cols=$cols $s: y, rstd, dx, dγ vs the CPU', async ({ rows, cols, s }) => {
    const x = roundToStorage(randoms(rows * cols, rows * 100 + cols, -2, 2), s);
    const g = randoms(cols, cols + 7, 0.5, 1.5);
    const dy = randoms(rows * cols, rows + cols);
    const ref = cpuRms(x, g, rows, cols, dy);
    const gpu = await gpuRms(x, g, rows, cols, s, dy);
    expectClose('rstd', gpu.rstd, ref.rstd, (i) => F32_REL * 4 * ref.rstd[i]!);
    expectClose('y', gpu.y, ref.y, (i) => (F32_REL * 4 + OUT_REL[s]) * Math.abs(ref.y[i]!) + 1e-7);
    // dx = rstd·(g − x̂·m): the two terms may cancel; their magnitudes bound the f32 error.
    expectClose('dx', gpu.dx, ref.dx, (i) => F32_REL * 4 * ref.rstd[Math.floor(i / cols)]! * (Math.abs(dy[i]! * g[i % cols]!) + 4 * Math.sqrt(cols)) + 1e-6);
    expectClose('dGamma', gpu.dg, ref.dg, () => F32_REL * 4 * rows * 8 + 1e-6);
  });

  it('backward matches central differences of Σ w⊙y, rows=3 cols=7, f32', async () => {
    const rows = 3;
    const cols = 7;
    const x = randoms(rows * cols, 5, -2, 2);
    const g = randoms(cols, 6, 0.5, 1.5);
    const w = randoms(rows * cols, 7);
    const gpu = await gpuRms(x, g, rows, cols, 'f32', w);
    const picks = [0, 8, rows * cols - 1];
    expectFd('dx', await finiteDifferences(x, w, picks, async (xx) => (await gpuRms(xx, g, rows, cols, 'f32')).y), gpu.dx, picks);
    const gPicks = [0, cols - 1];
    expectFd('dGamma', await finiteDifferences(g, w, gPicks, async (gg) => (await gpuRms(x, gg, rows, cols, 'f32')).y), gpu.dg, gPicks);
  });
});

// ---- RoPE ----------------------------------------------------------------------------------------

interface RopeShape {
  rows: number;
  seq: number;
  width: number;
  rotCols: number;
  headDim: number;
  theta: number;
}

function cpuRope(x: ArrayLike<number>, sh: RopeShape, sign: number) {
  const y = new Float64Array(sh.rows * sh.width);
  const mag = new Float64Array(sh.rows * sh.width);
  const half = sh.headDim / 2;
  for (let r = 0; r < sh.rows; r++)
    for (let c = 0; c < sh.width; c++) {
      const e = r * sh.width + c;
      if (c >= sh.rotCols) {
        y[e] = x[e]!;
        continue;
      }
      const lane = c % sh.headDim;
      const i = lane % half;
      const angle = (r % sh.seq) * sh.theta ** ((-2 * i) / sh.headDim);
      const partner = lane < half ? -x[e + half]! : x[e - half]!;
      y[e] = x[e]! * Math.cos(angle) + sign * partner * Math.sin(angle);
      mag[e] = (2 ** -11 + 1e-6 * (1 + (r % sh.seq))) * (Math.abs(x[e]!) + Math.abs(partner));
    }
  return { y, mag };
}

async function gpuRope(x: Float32Array, sh: RopeShape, xs: Storage, ys: Storage, inverse = false) {
  const xb = await fx.upload('x', encodeStorage(x, xs));
  const yb = await fx.empty('y', storageBytes(sh.rows * sh.width, ys));
  fx.submit((enc) => recordRope(fx.device, enc, { ...sh, x: xb, xStorage: xs, y: yb, yStorage: ys, inverse }));
  const y = decodeStorage(await fx.read(yb), sh.rows * sh.width, ys);
  fx.ledger.dispose();
  return y;
}

describe('RoPE', () => {
  // A qkv row of GQA: 3 query heads and 1 kv head of headDim 6 (rotCols = 4 heads), v copied; odd rows.
  const gqa: RopeShape = { rows: 2 * 5, seq: 5, width: 5 * 6, rotCols: 4 * 6, headDim: 6, theta: 10000 };
  const shapes: RopeShape[] = [gqa, { rows: 7, seq: 7, width: 3 * 4, rotCols: 2 * 4, headDim: 4, theta: 500000 }, { rows: 3, seq: 3, width: 2, rotCols: 2, headDim: 2, theta: 10000 }];
  it.each(shapes.flatMap((sh) => STORAGES.map((s) => ({ sh, s }))))('rows=$sh.rows width=$sh.width headDim=$sh.headDim $s: forward and inverse vs the CPU', async ({ sh, s }) => {
    const x = roundToStorage(randoms(sh.rows * sh.width, sh.width + sh.rows), s);
    const ref = cpuRope(x, sh, 1);
    const y = await gpuRope(x, sh, s, s);
    expectClose('y', y, ref.y, (i) => ref.mag[i]! + OUT_REL[s] * Math.abs(ref.y[i]!) + 1e-7);
    // The backward rotates f32 gradients the other way.
    const dy = randoms(sh.rows * sh.width, 3);
    const back = cpuRope(dy, sh, -1);
    const dx = await gpuRope(dy, sh, 'f32', 'f32', true);
    expectClose('dx', dx, back.y, (i) => back.mag[i]! + 1e-7);
  });

  it('inverse matches central differences of Σ w⊙y (f32)', async () => {
    const x = randoms(gqa.rows * gqa.width, 11);
    const w = randoms(gqa.rows * gqa.width, 12);
    const grad = await gpuRope(w, gqa, 'f32', 'f32', true);
    const picks = [0, 4, gqa.width + 2, 4 * gqa.width + 23, gqa.rows * gqa.width - 1];
    expectFd('dx', await finiteDifferences(x, w, picks, (xx) => gpuRope(xx, gqa, 'f32', 'f32')), grad, picks);
  });

  it('refuses an odd headDim and an in-place rotation', async () => {
    const b = await fx.empty('x', 4 * 12);
    const enc = fx.device.createCommandEncoder();
    expect(() => recordRope(fx.device, enc, { x: b, xStorage: 'f32', y: b, yStorage: 'f32', rows: 1, seq: 1, width: 12, rotCols: 12, headDim: 3 })).toThrow(/even/);
    expect(() => recordRope(fx.device, enc, { x: b, xStorage: 'f32', y: b, yStorage: 'f32', rows: 1, seq: 1, width: 12, rotCols: 12, headDim: 4 })).toThrow(/other than x/);
    enc.finish();
  });
});

// ---- SwiGLU -----------------------------------------------------------------------------------

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

function cpuSwiglu(gu: Float32Array, rows: number, inner: number, dAct: Float32Array) {
  const act = new Float64Array(rows * inner);
  const dGu = new Float64Array(rows * 2 * inner);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < inner; j++) {
      const g = gu[r * 2 * inner + j]!;
      const u = gu[r * 2 * inner + inner + j]!;
      const s = sigmoid(g);
      act[r * inner + j] = g * s * u;
      const dy = dAct[r * inner + j]!;
      dGu[r * 2 * inner + j] = dy * u * s * (1 + g * (1 - s));
      dGu[r * 2 * inner + inner + j] = dy * g * s;
    }
  return { act, dGu };
}

async function gpuSwiglu(gu: Float32Array, rows: number, inner: number, s: Storage, dAct?: Float32Array) {
  const gub = await fx.upload('gu', encodeStorage(gu, s));
  const actb = await fx.empty('act', storageBytes(rows * inner, s));
  fx.submit((enc) => recordSwiglu(fx.device, enc, { gu: gub, guStorage: s, act: actb, actStorage: s, rows, inner }));
  const out: Record<'act' | 'dGu', Float32Array> = { act: decodeStorage(await fx.read(actb), rows * inner, s), dGu: new Float32Array(0) };
  if (dAct) {
    const db = await fx.upload('dAct', dAct);
    const dgub = await fx.upload('dGu', new Float32Array(rows * 2 * inner).fill(NaN));
    fx.submit((enc) => recordSwigluBackward(fx.device, enc, { gu: gub, guStorage: s, dAct: db, dGu: dgub, rows, inner }));
    out.dGu = new Float32Array((await fx.read(dgub)).buffer);
  }
  fx.ledger.dispose();
  return out;
}

describe('SwiGLU', () => {
  const shapes = [
    { rows: 1, inner: 1 },
    { rows: 3, inner: 5 },
    { rows: 7, inner: 33 },
  ];
  it.each(shapes.flatMap((sh) => STORAGES.map((s) => ({ ...sh, s }))))('rows=$rows inner=$inner $s: act and dGu vs the CPU', async ({ rows, inner, s }) => {
    const gu = roundToStorage(randoms(rows * 2 * inner, rows + inner, -4, 4), s);
    const dAct = randoms(rows * inner, rows * inner + 1);
    const ref = cpuSwiglu(gu, rows, inner, dAct);
    const gpu = await gpuSwiglu(gu, rows, inner, s, dAct);
    expectClose('act', gpu.act, ref.act, (i) => (F32_REL * 4 + OUT_REL[s]) * Math.abs(ref.act[i]!) + 1e-7);
    expectClose('dGu', gpu.dGu, ref.dGu, (i) => F32_REL * 8 * (Math.abs(ref.dGu[i]!) + 1) + 1e-7);
  });

  it('backward matches central differences of Σ w⊙act (f32)', async () => {
    const rows = 3;
    const inner = 5;
    const gu = randoms(rows * 2 * inner, 21, -3, 3);
    const w = randoms(rows * inner, 22);
    const gpu = await gpuSwiglu(gu, rows, inner, 'f32', w);
    const picks = [0, 4, 5, 9, 2 * inner + 3, rows * 2 * inner - 1];
    expectFd('dGu', await finiteDifferences(gu, w, picks, async (x) => (await gpuSwiglu(x, rows, inner, 'f32')).act), gpu.dGu, picks);
  });
});

// ---- embedding without positions --------------------------------------------------------------

describe('embedding without a position table', () => {
  it.each(STORAGES)('out = tokenTable[ids] in %s; the backward writes the token table only', async (s) => {
    const seq = 3;
    const rows = 2 * seq;
    const dim = 5;
    const vocab = 7;
    const table = randoms(vocab * dim, 31);
    const idsArr = Uint32Array.from([0, 6, 2, 2, 5, 1]);
    const ids = await fx.upload('ids', idsArr);
    const tokenTable = await fx.upload('tokens', table);
    const out = await fx.empty('out', storageBytes(rows * dim, s));
    fx.submit((enc) => recordEmbedding(fx.device, enc, { ids, rows, seq, dim, vocab, tokenTable, posTable: null, out, outStorage: s }));
    const want = new Float64Array(rows * dim);
    for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) want[r * dim + j] = table[idsArr[r]! * dim + j]!;
    const got = decodeStorage(await fx.read(out), rows * dim, s);
    expectClose('out', got, want, (i) => OUT_REL[s] * Math.abs(want[i]!));
    const dOutV = randoms(rows * dim, 32);
    const dOut = await fx.upload('dOut', dOutV);
    const dToken = await fx.upload('dToken', new Float32Array(vocab * dim).fill(NaN));
    fx.submit((enc) => recordEmbeddingBackward(fx.device, enc, { ids, rows, seq, dim, vocab, dOut, dToken, accumulateToken: false, dPos: null, maxPos: seq }));
    const dWant = new Float64Array(vocab * dim);
    for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) dWant[idsArr[r]! * dim + j]! += dOutV[r * dim + j]!;
    expectClose('dToken', new Float32Array((await fx.read(dToken)).buffer), dWant, () => 1e-6);
    fx.ledger.dispose();
  });
});
