/**
 * Causal self-attention, eager and fused, against a plain CPU reference in f64 (from the same
 * rounded qkv the kernels read), against each other, and the backward against finite
 * differences of the GPU forward. Shapes are small and odd on purpose: s = 33 spills one row
 * past the default fused tile (32) and leaves packed words straddling two probs rows; the tile
 * tests force tiles of 1–8 so the online softmax rescales across many key tiles. SwiftShader
 * is slow, so s ≤ 33 and headDim ≤ 16. Grouped-query shapes (kvHeads < heads) check that each
 * query head reads its group's kv head and that dK, dV sum over the group. The row max and sum
 * of eager_probs and backward_q's D run on subgroup operations where the device has them
 * (SwiftShader does): the cases run that path, and a cheap set on a device view without the
 * feature runs the workgroup-memory tree.
 *
 * Tolerances (|gpu − ref| ≤ tol; ε = 1e-5, the f32 sum bound of kernels.test.ts, with headroom;
 * u(x) = one ulp of storage x, relative: f32 0, f16 2^-10, bf16 2^-7):
 *   probs   (ε + u(probs))·P + 1e-7; exactly 0 above the diagonal
 *   lse     ε·(1 + |lse|)
 *   out     eager (ε + u(probs))·Σ_j P|v| + u(out)·|out| + 1e-7 (P·V from the stored probs);
 *           fused ε·Σ_j P|v| + u(out)·|out| + 1e-7; eager vs fused the sum of the two
 *   dQkv    vs the CPU analytic backward given the P and D the kernel sees (eager: the stored
 *           probs; fused: exact P, D from the stored out): ε·mag + 1e-7, mag the same sums
 *           with every term made absolute; eager vs fused: (2ε + 4·(u(probs) + u(out)))·mag + 1e-6
 *   finite differences (f32, central, h = 1e-2): 5e-4 + 1e-2·|g| (truncation h²·|f‴|/6 and
 *           f32 rounding of Σ w⊙out over 2h)
 * Measured on SwiftShader, the worst |gpu − ref| / tol was ≈ 0.5 for probs and out (the half-ulp
 * rounding to 16 bits), 0.08 for eager vs fused dQkv and ≤ 0.035 for everything else.
 */
import { describe, expect, it } from 'vitest';
import {
  ATTENTION_WORKGROUP_SIZE,
  eagerProbsBytes,
  fusedLseBytes,
  fusedTile,
  fusedWorkgroupBytes,
  recordAttentionEager,
  recordAttentionEagerBackward,
  recordAttentionFused,
  recordAttentionFusedBackward,
  type AttentionShape,
} from '../../src/engine/kernels/attention.ts';
import { rowReduction } from '../../src/engine/kernels/rowreduce.ts';
import { decodeStorage, encodeStorage, roundToStorage, storageBytes, type Storage } from '../../src/engine/kernels/storage.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms } from '../helpers/random.ts';
import { expectClose } from '../helpers/reference.ts';

const fx = useGpuFixture('test.kernels-attention');

// ---- helpers ---------------------------------------------------------------------------


const ULP: Record<Storage, number> = { f32: 0, f16: 2 ** -10, bf16: 2 ** -7 };
const EPS = 1e-5;


function dims(sh: AttentionShape) {
  const h = sh.heads * sh.headDim;
  const kv = sh.kvHeads ?? sh.heads;
  return { h, kv, w: h + 2 * kv * sh.headDim, rows: sh.B * sh.s, slots: sh.B * sh.heads, scale: 1 / Math.sqrt(sh.headDim) };
}

/**
 * Accessors of the logical layouts: qkv rows×w (part 0 q over heads, 1 k and 2 v over kvHeads;
 * query head j reads kv head j / (heads / kvHeads)), out rows×h, probs slots×s×s.
 */
function layout(sh: AttentionShape) {
  const { h, kv, w } = dims(sh);
  const D = sh.headDim;
  const group = sh.heads / kv;
  return {
    qkv: (part: number, bh: number, i: number, d: number) => {
      const row = (Math.floor(bh / sh.heads) * sh.s + i) * w;
      const head = bh % sh.heads;
      return part === 0 ? row + head * D + d : row + h + (part - 1) * kv * D + Math.floor(head / group) * D + d;
    },
    out: (bh: number, i: number, d: number) => (Math.floor(bh / sh.heads) * sh.s + i) * h + (bh % sh.heads) * D + d,
    probs: (bh: number, i: number, j: number) => (bh * sh.s + i) * sh.s + j,
  };
}

// ---- CPU reference (f64) -------------------------------------------------------------------

interface CpuForward {
  probs: Float64Array;
  out: Float64Array;
  lse: Float64Array;
  /** Σ_j P|v| per out element, for the tolerances. */
  outMag: Float64Array;
}

function cpuForward(x: Float32Array, sh: AttentionShape): CpuForward {
  const { h, rows, slots, scale } = dims(sh);
  const L = layout(sh);
  const { s, headDim: D } = sh;
  const probs = new Float64Array(slots * s * s);
  const out = new Float64Array(rows * h);
  const outMag = new Float64Array(rows * h);
  const lse = new Float64Array(slots * s);
  for (let bh = 0; bh < slots; bh++)
    for (let i = 0; i < s; i++) {
      const sc = new Float64Array(i + 1);
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += x[L.qkv(0, bh, i, d)]! * x[L.qkv(1, bh, j, d)]!;
        sc[j] = dot * scale;
      }
      const m = Math.max(...sc);
      let l = 0;
      for (const v of sc) l += Math.exp(v - m);
      lse[bh * s + i] = m + Math.log(l);
      for (let j = 0; j <= i; j++) probs[L.probs(bh, i, j)] = Math.exp(sc[j]! - m) / l;
      for (let d = 0; d < D; d++)
        for (let j = 0; j <= i; j++) {
          const p = probs[L.probs(bh, i, j)]! * x[L.qkv(2, bh, j, d)]!;
          out[L.out(bh, i, d)]! += p;
          outMag[L.out(bh, i, d)]! += Math.abs(p);
        }
    }
  return { probs, out, lse, outMag };
}

/**
 * dQkv for dOut given P (slots×s×s) and, per query row, D: rowsum(dP ⊙ P) when `dRow` is
 * undefined (eager) or the given rowsum(dO ⊙ O) (fused), with its Σ|dO·O|. mag: the same
 * sums with every term made absolute.
 */
function cpuBackward(x: Float32Array, sh: AttentionShape, P: ArrayLike<number>, dOut: Float32Array, dRow?: { D: Float64Array; abs: Float64Array }) {
  const { rows, slots, scale, w } = dims(sh);
  const L = layout(sh);
  const { s, headDim: D } = sh;
  const grad = new Float64Array(rows * w);
  const mag = new Float64Array(rows * w);
  for (let bh = 0; bh < slots; bh++)
    for (let i = 0; i < s; i++) {
      const dP = new Float64Array(i + 1);
      const dPabs = new Float64Array(i + 1);
      for (let j = 0; j <= i; j++)
        for (let d = 0; d < D; d++) {
          const t = dOut[L.out(bh, i, d)]! * x[L.qkv(2, bh, j, d)]!;
          dP[j]! += t;
          dPabs[j]! += Math.abs(t);
        }
      let Dv = 0;
      let Dabs = 0;
      for (let j = 0; j <= i; j++) {
        Dv += P[L.probs(bh, i, j)]! * dP[j]!;
        Dabs += P[L.probs(bh, i, j)]! * dPabs[j]!;
      }
      if (dRow) {
        Dv = dRow.D[bh * s + i]!;
        Dabs = dRow.abs[bh * s + i]!;
      }
      for (let j = 0; j <= i; j++) {
        const p = P[L.probs(bh, i, j)]!;
        const dS = p * (dP[j]! - Dv);
        const dSabs = p * (dPabs[j]! + Dabs);
        for (let d = 0; d < D; d++) {
          const q = x[L.qkv(0, bh, i, d)]!;
          const k = x[L.qkv(1, bh, j, d)]!;
          const o = dOut[L.out(bh, i, d)]!;
          grad[L.qkv(0, bh, i, d)]! += scale * dS * k;
          mag[L.qkv(0, bh, i, d)]! += scale * dSabs * Math.abs(k);
          grad[L.qkv(1, bh, j, d)]! += scale * dS * q;
          mag[L.qkv(1, bh, j, d)]! += scale * dSabs * Math.abs(q);
          grad[L.qkv(2, bh, j, d)]! += p * o;
          mag[L.qkv(2, bh, j, d)]! += p * Math.abs(o);
        }
      }
    }
  return { grad, mag };
}

// ---- running the kernels -----------------------------------------------------------------------

interface Storages {
  qkv: Storage;
  probs: Storage;
  out: Storage;
}

interface GpuResult {
  probs: Float32Array;
  eagerOut: Float32Array;
  fusedOut: Float32Array;
  lse: Float32Array;
  eagerGrad?: Float32Array;
  fusedGrad?: Float32Array;
}

/** Eager and fused forward (and backward when dOut is given) of qkv, everything read back; buffers freed. */
async function runBoth(sh: AttentionShape, st: Storages, qkvValues: Float32Array, dOutValues?: Float32Array, tile?: number, device = fx.device): Promise<GpuResult> {
  const { h, rows, slots, w } = dims(sh);
  const qkv = await fx.upload('qkv', encodeStorage(qkvValues, st.qkv), 'activations');
  const probs = await fx.empty('probs', eagerProbsBytes(sh, st.probs), 'activations');
  const eagerOut = await fx.empty('out.eager', storageBytes(rows * h, st.out), 'activations');
  const fusedOut = await fx.empty('out.fused', storageBytes(rows * h, st.out), 'activations');
  const lse = await fx.empty('lse', fusedLseBytes(sh), 'activations');
  const shape = { B: sh.B, s: sh.s, heads: sh.heads, headDim: sh.headDim, kvHeads: sh.kvHeads };
  fx.submit((enc) => {
    recordAttentionEager(device, enc, { ...shape, qkv, qkvStorage: st.qkv, probs, probsStorage: st.probs, out: eagerOut, outStorage: st.out });
    recordAttentionFused(device, enc, { ...shape, qkv, qkvStorage: st.qkv, out: fusedOut, outStorage: st.out, lse, tile });
  });
  const result: GpuResult = {
    probs: decodeStorage(await fx.read(probs), slots * sh.s * sh.s, st.probs),
    eagerOut: decodeStorage(await fx.read(eagerOut), rows * h, st.out),
    fusedOut: decodeStorage(await fx.read(fusedOut), rows * h, st.out),
    lse: decodeStorage(await fx.read(lse), slots * sh.s, 'f32'),
  };
  if (dOutValues) {
    const dOut = await fx.upload('dOut', dOutValues, 'activation-grads');
    // Garbage first: the kernels must overwrite every element.
    const garbage = new Float32Array(rows * w).fill(NaN);
    const eagerGrad = await fx.upload('dQkv.eager', garbage, 'activation-grads');
    const fusedGrad = await fx.upload('dQkv.fused', garbage, 'activation-grads');
    fx.submit((enc) => {
      recordAttentionEagerBackward(device, enc, { ...shape, qkv, qkvStorage: st.qkv, probs, probsStorage: st.probs, dOut, dQkv: eagerGrad });
      recordAttentionFusedBackward(device, enc, { ...shape, qkv, qkvStorage: st.qkv, out: fusedOut, outStorage: st.out, lse, dOut, dQkv: fusedGrad });
    });
    result.eagerGrad = decodeStorage(await fx.read(eagerGrad), rows * w, 'f32');
    result.fusedGrad = decodeStorage(await fx.read(fusedGrad), rows * w, 'f32');
  }
  fx.ledger.dispose();
  return result;
}

function inputs(sh: AttentionShape, st: Storages, seed: number) {
  const { h, rows, w } = dims(sh);
  // Scores up to ~√headDim: softmax rows neither flat nor one-hot.
  const x = roundToStorage(randoms(rows * w, seed, -1.5, 1.5), st.qkv);
  const dOut = randoms(rows * h, seed + 1);
  return { x, dOut };
}

// ---- cases -----------------------------------------------------------------------------------

type Case = AttentionShape & Storages;

const SHAPES: AttentionShape[] = [
  { B: 1, s: 1, heads: 1, headDim: 4 },
  { B: 2, s: 5, heads: 3, headDim: 8 },
  { B: 1, s: 16, heads: 2, headDim: 16 },
  { B: 2, s: 33, heads: 1, headDim: 4 },
  { B: 1, s: 33, heads: 3, headDim: 16 },
  // Grouped-query: two groups of two query heads; one group of three (multi-query).
  { B: 2, s: 7, heads: 4, kvHeads: 2, headDim: 8 },
  { B: 1, s: 9, heads: 3, kvHeads: 1, headDim: 4 },
];
const UNIFORM: Storages[] = (['f32', 'f16', 'bf16'] as const).map((s) => ({ qkv: s, probs: s, out: s }));
const MIXED: Storages[] = [
  { qkv: 'bf16', probs: 'f32', out: 'f16' },
  { qkv: 'f16', probs: 'bf16', out: 'f32' },
];
const CASES: Case[] = [
  ...SHAPES.flatMap((sh) => UNIFORM.map((st) => ({ ...sh, ...st }))),
  ...MIXED.map((st, k) => ({ ...SHAPES[1 + 2 * k]!, ...st })),
];

function describeCase(c: Case): string {
  return `B=${c.B} s=${c.s} heads=${c.heads}${c.kvHeads ? ` kvHeads=${c.kvHeads}` : ''} headDim=${c.headDim} qkv:${c.qkv} probs:${c.probs} out:${c.out}`;
}

// ---- tests ------------------------------------------------------------------------------------

/** Forward results against the CPU reference, and eager against fused. */
function checkForward(c: Case, x: Float32Array, gpu: GpuResult): void {
  const ref = cpuForward(x, c);
  const L = layout(c);
  expectClose('probs', gpu.probs, ref.probs, (i) => (EPS + ULP[c.probs]) * ref.probs[i]! + 1e-7);
  const above: number[] = [];
  for (let bh = 0; bh < c.B * c.heads; bh++)
    for (let i = 0; i < c.s; i++) for (let j = i + 1; j < c.s; j++) if (gpu.probs[L.probs(bh, i, j)] !== 0) above.push(L.probs(bh, i, j));
  expect(above, 'probs above the diagonal').toEqual([]);
  expectClose('lse', gpu.lse, ref.lse, (i) => EPS * (1 + Math.abs(ref.lse[i]!)));
  const tolEager = (i: number) => (EPS + ULP[c.probs]) * ref.outMag[i]! + ULP[c.out] * Math.abs(ref.out[i]!) + 1e-7;
  const tolFused = (i: number) => EPS * ref.outMag[i]! + ULP[c.out] * Math.abs(ref.out[i]!) + 1e-7;
  expectClose('eager out', gpu.eagerOut, ref.out, tolEager);
  expectClose('fused out', gpu.fusedOut, ref.out, tolFused);
  expectClose('eager − fused out', gpu.eagerOut, gpu.fusedOut, (i) => tolEager(i) + tolFused(i));
}

describe('attention forward', () => {
  it.each(CASES.map((c) => [describeCase(c), c] as const))('%s: probs, lse and out vs the CPU; eager = fused', async (_, c) => {
    const { x } = inputs(c, c, 1000 * c.s + 10 * c.headDim + c.heads);
    checkForward(c, x, await runBoth(c, c, x));
  });
});

describe('attention fused tiles', () => {
  // The default tile (32 for headDim ≤ 16) covers s ≤ 32 in one tile; small tiles make the
  // online softmax rescale across many key tiles and leave a ragged last tile.
  it.each([1, 3, 4, 8])('tile %i: out and lse vs the CPU, B=2 s=33 heads=2 headDim=8, bf16 qkv, f16 out', async (tile) => {
    const sh = { B: 2, s: 33, heads: 2, headDim: 8 };
    const st: Storages = { qkv: 'bf16', probs: 'f32', out: 'f16' };
    // Keys that grow along the sequence, so a row's running max keeps rising tile after tile.
    const { x } = inputs(sh, st, 500 + tile);
    const L = layout(sh);
    for (let bh = 0; bh < sh.B * sh.heads; bh++)
      for (let j = 0; j < sh.s; j++) for (let d = 0; d < sh.headDim; d++) x[L.qkv(1, bh, j, d)] = roundToStorage(Float32Array.of(x[L.qkv(1, bh, j, d)]! * (0.2 + j / 8)), 'bf16')[0]!;
    const ref = cpuForward(x, sh);
    const gpu = await runBoth(sh, st, x, undefined, tile);
    expectClose('lse', gpu.lse, ref.lse, (i) => EPS * (1 + Math.abs(ref.lse[i]!)));
    expectClose('fused out', gpu.fusedOut, ref.out, (i) => EPS * ref.outMag[i]! + ULP[st.out] * Math.abs(ref.out[i]!) + 1e-7);
  });
});

/** dQkv against the CPU analytic backward (given the P and D each kernel sees), and eager against fused. */
function checkBackward(c: Case, x: Float32Array, dOut: Float32Array, gpu: GpuResult): void {
  const L = layout(c);
  // Eager: the stored probs are the P its backward reads.
  const eager = cpuBackward(x, c, gpu.probs, dOut);
  expectClose('eager dQkv', gpu.eagerGrad!, eager.grad, (i) => EPS * eager.mag[i]! + 1e-7);
  // Fused: the exact P (it recomputes in f32) and D = rowsum(dO ⊙ O) from the stored out.
  const ref = cpuForward(x, c);
  const dRow = { D: new Float64Array(c.B * c.heads * c.s), abs: new Float64Array(c.B * c.heads * c.s) };
  for (let bh = 0; bh < c.B * c.heads; bh++)
    for (let i = 0; i < c.s; i++)
      for (let d = 0; d < c.headDim; d++) {
        const t = dOut[L.out(bh, i, d)]! * gpu.fusedOut[L.out(bh, i, d)]!;
        dRow.D[bh * c.s + i]! += t;
        dRow.abs[bh * c.s + i]! += Math.abs(t);
      }
  const fused = cpuBackward(x, c, ref.probs, dOut, dRow);
  expectClose('fused dQkv', gpu.fusedGrad!, fused.grad, (i) => EPS * fused.mag[i]! + 1e-7);
  // Against each other, and (f32) against the exact analytic gradient.
  const exact = cpuBackward(x, c, ref.probs, dOut);
  const rel = 2 * EPS + 4 * (ULP[c.probs] + ULP[c.out]);
  expectClose('eager − fused dQkv', gpu.eagerGrad!, gpu.fusedGrad!, (i) => rel * exact.mag[i]! + 1e-6);
  if (c.probs === 'f32' && c.out === 'f32') {
    expectClose('eager dQkv (exact)', gpu.eagerGrad!, exact.grad, (i) => EPS * exact.mag[i]! + 1e-7);
    expectClose('fused dQkv (exact)', gpu.fusedGrad!, exact.grad, (i) => EPS * exact.mag[i]! + 1e-7);
  }
}

describe('attention backward', () => {
  it.each(CASES.map((c) => [describeCase(c), c] as const))('%s: dQkv vs the CPU analytic backward; eager = fused', async (_, c) => {
    const { x, dOut } = inputs(c, c, 2000 * c.s + 10 * c.headDim + c.heads);
    checkBackward(c, x, dOut, await runBoth(c, c, x, dOut));
  });

  it.each([
    { B: 2, s: 5, heads: 2, headDim: 4 },
    { B: 1, s: 33, heads: 2, headDim: 8 },
    { B: 1, s: 6, heads: 4, kvHeads: 2, headDim: 4 },
  ] as AttentionShape[])('matches central differences of Σ w⊙out, B=$B s=$s heads=$heads kvHeads=$kvHeads headDim=$headDim, f32', async (sh) => {
    const st: Storages = { qkv: 'f32', probs: 'f32', out: 'f32' };
    const { x, dOut: w } = inputs(sh, st, 77 + sh.s);
    const { h } = dims(sh);
    const L = layout(sh);
    const gpu = await runBoth(sh, st, x, w);
    const objective = (out: Float32Array) => out.reduce((acc, v, i) => acc + v * w[i]!, 0);
    const step = 1e-2;
    const last = sh.s - 1;
    // A few entries of q, k and v: first and last positions, both sequences and heads.
    const picks: [number, number, number, number][] = [];
    for (const part of [0, 1, 2]) {
      picks.push([part, 0, 0, 0], [part, sh.B * sh.heads - 1, last, sh.headDim - 1], [part, sh.B * sh.heads - 1, Math.floor(last / 2), 1]);
    }
    if (sh.s > 1) picks.push([1, 0, 0, 1], [2, 0, 1, 0]); // keys every later query sees
    for (const [part, bh, i, d] of picks) {
      const idx = L.qkv(part, bh, i, d);
      const plus = Float32Array.from(x);
      const minus = Float32Array.from(x);
      plus[idx]! += step;
      minus[idx]! -= step;
      const gp = await runBoth(sh, st, plus);
      const gm = await runBoth(sh, st, minus);
      const span = plus[idx]! - minus[idx]!;
      const fdEager = (objective(gp.eagerOut) - objective(gm.eagerOut)) / span;
      const fdFused = (objective(gp.fusedOut) - objective(gm.fusedOut)) / span;
      const where = `part ${part} slot ${bh} i ${i} d ${d} (of h=${h})`;
      expect(Math.abs(fdEager - gpu.eagerGrad![idx]!), `eager ${where}: fd ${fdEager}, grad ${gpu.eagerGrad![idx]}`).toBeLessThanOrEqual(5e-4 + 1e-2 * Math.abs(fdEager));
      expect(Math.abs(fdFused - gpu.fusedGrad![idx]!), `fused ${where}: fd ${fdFused}, grad ${gpu.fusedGrad![idx]}`).toBeLessThanOrEqual(5e-4 + 1e-2 * Math.abs(fdFused));
    }
  });
});

describe('attention row reductions', () => {
  it('use subgroup operations on a device that has them, so the cases above run that path', () => {
    const subgroups = fx.device.features.has('subgroups') && ATTENTION_WORKGROUP_SIZE % (fx.device.adapterInfo.subgroupMaxSize ?? 0) === 0;
    expect(rowReduction(fx.device, ATTENTION_WORKGROUP_SIZE)).toBe(subgroups ? 'subgroup' : 'workgroup');
    // SwiftShader, where these tests run, has subgroups of 4.
    if (/swiftshader/i.test(fx.device.adapterInfo.description)) expect(rowReduction(fx.device, ATTENTION_WORKGROUP_SIZE)).toBe('subgroup');
  });

  // A view of the device without the `subgroups` feature takes the workgroup-memory tree. An
  // odd number of query rows leaves eager_probs' last pair one row short; bits equal run to run.
  it.each(([
    { B: 1, s: 33, heads: 3, headDim: 8, qkv: 'f32', probs: 'f32', out: 'f32' },
    { B: 2, s: 7, heads: 4, kvHeads: 2, headDim: 8, qkv: 'bf16', probs: 'bf16', out: 'bf16' },
  ] as Case[]).map((c) => [describeCase(c), c] as const))('without subgroups, %s: forward and backward vs the CPU, eager = fused, the same bits twice', async (_, c) => {
    const tree = withoutSubgroups(fx.device);
    expect(rowReduction(tree, ATTENTION_WORKGROUP_SIZE)).toBe('workgroup');
    const { x, dOut } = inputs(c, c, 3000 * c.s + c.heads);
    const gpu = await runBoth(c, c, x, dOut, undefined, tree);
    checkForward(c, x, gpu);
    checkBackward(c, x, dOut, gpu);
    const again = await runBoth(c, c, x, dOut, undefined, tree);
    for (const key of ['probs', 'eagerOut', 'fusedOut', 'lse', 'eagerGrad', 'fusedGrad'] as const) expect([...again[key]!], key).toEqual([...gpu[key]!]);
  });
});

/** A view of the device without the `subgroups` feature: the kernels take their workgroup-memory reductions. */
function withoutSubgroups(real: GPUDevice): GPUDevice {
  const features = new Set([...real.features].filter((f) => f !== 'subgroups'));
  return new Proxy(real, {
    get(target, key) {
      if (key === 'features') return features;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('attention dispatch split', () => {
  it('gives the same bits when maxComputeWorkgroupsPerDimension forces a y dimension', async () => {
    // A view of the device allowing 4 workgroups per dimension: eager_probs' 5 groups become
    // 4×2, the backward's 10 and the fused 10 (tile 1) 4×3, each with spare groups.
    const real = fx.device;
    const small = new Proxy(real, {
      get(target, key) {
        if (key === 'limits') return { ...limitsOf(target), maxComputeWorkgroupsPerDimension: 4 };
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const sh = { B: 1, s: 5, heads: 2, headDim: 4 };
    const st: Storages = { qkv: 'f16', probs: 'bf16', out: 'f16' };
    const { x, dOut } = inputs(sh, st, 9);
    const want = await runBoth(sh, st, x, dOut, 1);
    const got = await runBoth(sh, st, x, dOut, 1, small);
    for (const key of ['probs', 'eagerOut', 'fusedOut', 'lse', 'eagerGrad', 'fusedGrad'] as const) expect([...got[key]!], key).toEqual([...want[key]!]);
  });
});

function limitsOf(device: GPUDevice): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in device.limits) out[key] = (device.limits as unknown as Record<string, number>)[key]!;
  return out;
}

describe('attention sizes and limits', () => {
  it('sizes the eager probs and the fused row statistics', () => {
    const sh = { B: 2, s: 5, heads: 3, headDim: 8 };
    expect(eagerProbsBytes(sh, 'f32')).toBe(4 * 2 * 3 * 25);
    expect(eagerProbsBytes(sh, 'bf16')).toBe(4 * Math.ceil((2 * 3 * 25) / 2));
    expect(fusedLseBytes(sh)).toBe(4 * 2 * 3 * 5);
  });

  it('fits the fused tile in 16 KiB of workgroup memory', () => {
    for (const d of [4, 8, 16, 32, 64, 128, 256]) {
      const t = fusedTile(d);
      expect(fusedWorkgroupBytes(t, d)).toBeLessThanOrEqual(16384);
      expect(t === 32 || fusedWorkgroupBytes(2 * t, d) > 16384).toBe(true);
    }
    expect(() => fusedTile(2048)).toThrow(RangeError);
  });

  it('writes 0 into the high half of the last word of an odd packed probs tensor', async () => {
    const sh = { B: 1, s: 5, heads: 1, headDim: 4 }; // 25 probs
    const x = roundToStorage(randoms(5 * 12, 3), 'f16');
    const qkv = await fx.upload('qkv', encodeStorage(x, 'f16'));
    const probs = await fx.upload('probs', new Uint32Array(13).fill(0xffffffff));
    const out = await fx.empty('out', storageBytes(5 * 4, 'f16'));
    fx.submit((enc) => recordAttentionEager(fx.device, enc, { ...sh, qkv, qkvStorage: 'f16', probs, probsStorage: 'f16', out, outStorage: 'f16' }));
    const words = await fx.read(probs);
    expect(words[12]! >>> 16).toBe(0);
  });

  it('refuses a packed fused out with an odd headDim, and short buffers', async () => {
    const sh = { B: 1, s: 3, heads: 2, headDim: 3 };
    const qkv = await fx.empty('qkv', 4 * 3 * 18);
    const out = await fx.empty('out', 4 * 3 * 6);
    const lse = await fx.empty('lse', 4 * 6);
    const enc = fx.device.createCommandEncoder();
    expect(() => recordAttentionFused(fx.device, enc, { ...sh, qkv, qkvStorage: 'f32', out, outStorage: 'bf16', lse })).toThrow(/even headDim/);
    expect(() => recordAttentionFused(fx.device, enc, { ...sh, s: 4, qkv, qkvStorage: 'f32', out, outStorage: 'f32', lse })).toThrow(RangeError);
    expect(() => recordAttentionFused(fx.device, enc, { ...sh, qkv, qkvStorage: 'f32', out, outStorage: 'f32', lse, tile: 200 })).toThrow(/workgroup memory/);
    enc.finish();
  });
});
