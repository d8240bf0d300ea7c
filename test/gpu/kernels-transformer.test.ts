/**
 * The transformer kernels (LayerNorm, embeddings, cross-entropy, residual add and gradient
 * accumulation) against plain CPU references in f64, every backward also against finite
 * differences of the GPU forward. Shapes are small and odd on purpose: SwiftShader is slow,
 * and odd widths put packed words across two rows.
 *
 * Tolerances (|gpu − ref| ≤ tol; the reference reads the same storage-rounded inputs):
 *   add, accumulate, embedding forward   bit-exact: one f32 add, then the storage's
 *                                        round-to-nearest-even, on both sides
 *   embedding backward                   1e-6 × Σ|terms| (f32 sums in token order)
 *   LayerNorm y                          |γ|·(rstd·2e-6·mean|x| + 1e-5·(1 + |x̂|)) + 1e-6·|β|
 *                                        + one ulp of y's storage (2^-10 f16, 2^-7 bf16)
 *   LayerNorm mean, rstd                 2e-6 × mean|x| · rstd, 1e-5 × rstd
 *   LayerNorm dx                         2e-5 × rstd·(|g| + mean|g| + |x̂|·mean|g·x̂|)
 *   LayerNorm dγ, dβ                     2e-5 × Σ_r |terms|
 *   cross-entropy loss                   1e-5 × (loss + 1)
 *   cross-entropy dLogits                scale/rows × (1e-5·(1 + |l − max|)·p + 2e-6)
 *   finite differences (f32, central)    LayerNorm 1e-3 + 1e-2·|g|; cross-entropy
 *                                        1e-4 + 2e-2·|g| (f32 noise of L over 2h, plus h²)
 */
import { describe, expect, it } from 'vitest';
import { CROSS_ENTROPY_LOSS_BYTES, CROSS_ENTROPY_PARTIALS, recordCrossEntropy } from '../../src/engine/kernels/crossentropy.ts';
import { recordAccumulate, recordAdd } from '../../src/engine/kernels/elementwise.ts';
import { recordEmbedding, recordEmbeddingBackward } from '../../src/engine/kernels/embedding.ts';
import { LAYERNORM_WORKGROUP, recordLayerNorm, recordLayerNormBackward } from '../../src/engine/kernels/layernorm.ts';
import { rowReduction, type RowReduction } from '../../src/engine/kernels/rowreduce.ts';
import { STORAGES, decodeStorage, encodeStorage, roundToStorage, storageBytes, type Storage } from '../../src/engine/kernels/storage.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms, rng } from '../helpers/random.ts';
import { OUT_REL, expectClose } from '../helpers/reference.ts';

const fx = useGpuFixture('test.kernels-transformer');

// ---- helpers ---------------------------------------------------------------------------


function randomIds(n: number, vocab: number, seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(r() * vocab));
}


async function upload(name: string, values: Float32Array, s: Storage = 'f32'): Promise<GPUBuffer> {
  return fx.upload(name, encodeStorage(values, s));
}

async function readValues(buffer: GPUBuffer, n: number, s: Storage = 'f32'): Promise<Float32Array> {
  return decodeStorage(await fx.read(buffer), n, s);
}


/** The words a buffer of storage s holds for f32 values: the kernel's rounding, bit for bit. */
function words(values: ArrayLike<number>, s: Storage): number[] {
  return [...encodeStorage(Float32Array.from(values), s)];
}

/** A view of the device with maxComputeWorkgroupsPerDimension = 3, so dispatches split over y. */
function smallDevice(real: GPUDevice): GPUDevice {
  const limits: Record<string, number> = {};
  for (const key in real.limits) limits[key] = (real.limits as unknown as Record<string, number>)[key]!;
  limits.maxComputeWorkgroupsPerDimension = 3;
  return new Proxy(real, {
    get(target, key) {
      if (key === 'limits') return limits;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * The device for a row reduction: the fixture's, whose row kernels use subgroup operations
 * where the adapter has them, or a view of it without the `subgroups` feature, so the same
 * kernels take the workgroup-memory tree.
 */
function deviceFor(reduction: RowReduction | undefined): GPUDevice {
  const real = fx.device;
  if (reduction !== 'workgroup') return real;
  const features = new Set([...real.features].filter((f) => f !== 'subgroups'));
  const d = new Proxy(real, {
    get(target, key) {
      if (key === 'features') return features;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  expect(rowReduction(d, LAYERNORM_WORKGROUP.row)).toBe('workgroup');
  return d;
}

describe('row reductions', () => {
  it('use subgroup operations on a device that has them (the fixture asks for the feature)', () => {
    const subgroups = fx.device.features.has('subgroups') && LAYERNORM_WORKGROUP.row % (fx.device.adapterInfo.subgroupMaxSize ?? 0) === 0;
    expect(rowReduction(fx.device, LAYERNORM_WORKGROUP.row)).toBe(subgroups ? 'subgroup' : 'workgroup');
    // SwiftShader, where these tests run, has subgroups of 4.
    if (/swiftshader/i.test(fx.device.adapterInfo.description)) expect(rowReduction(fx.device, LAYERNORM_WORKGROUP.row)).toBe('subgroup');
  });
});

// ---- CPU references --------------------------------------------------------------------

function layerNormRef(x: Float32Array, rows: number, cols: number, gamma: Float32Array, beta: Float32Array, eps = 1e-5) {
  const y = new Float64Array(rows * cols);
  const xhat = new Float64Array(rows * cols);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  const meanAbs = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    let a = 0;
    for (let j = 0; j < cols; j++) {
      s += x[r * cols + j]!;
      a += Math.abs(x[r * cols + j]!);
    }
    const m = s / cols;
    let q = 0;
    for (let j = 0; j < cols; j++) q += (x[r * cols + j]! - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(q / cols + eps);
    meanAbs[r] = a / cols;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      xhat[i] = (x[i]! - m) * rstd[r]!;
      y[i] = xhat[i]! * gamma[j]! + beta[j]!;
    }
  }
  return { y, xhat, mean, rstd, meanAbs };
}

/** dx, dγ, dβ of LayerNorm for upstream dy, with the magnitudes the tolerances scale by. */
function layerNormBackwardRef(dy: Float32Array, rows: number, cols: number, gamma: Float32Array, xhat: Float64Array, rstd: Float64Array) {
  const dx = new Float64Array(rows * cols);
  const dxMag = new Float64Array(rows * cols);
  const dGamma = new Float64Array(cols);
  const dBeta = new Float64Array(cols);
  const dGammaMag = new Float64Array(cols);
  const dBetaMag = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let m1 = 0;
    let m2 = 0;
    let a1 = 0;
    let a2 = 0;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      const g = dy[i]! * gamma[j]!;
      m1 += g;
      m2 += g * xhat[i]!;
      a1 += Math.abs(g);
      a2 += Math.abs(g * xhat[i]!);
      dGamma[j]! += dy[i]! * xhat[i]!;
      dBeta[j]! += dy[i]!;
      dGammaMag[j]! += Math.abs(dy[i]! * xhat[i]!);
      dBetaMag[j]! += Math.abs(dy[i]!);
    }
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      const g = dy[i]! * gamma[j]!;
      dx[i] = rstd[r]! * (g - m1 / cols - xhat[i]! * (m2 / cols));
      dxMag[i] = rstd[r]! * (Math.abs(g) + a1 / cols + Math.abs(xhat[i]!) * (a2 / cols));
    }
  }
  return { dx, dxMag, dGamma, dBeta, dGammaMag, dBetaMag };
}

function crossEntropyRef(logits: Float32Array, targets: Uint32Array, rows: number, vocab: number, scale: number) {
  let loss = 0;
  const dLogits = new Float64Array(rows * vocab);
  const p = new Float64Array(rows * vocab);
  const gap = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) m = Math.max(m, logits[r * vocab + j]!);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(logits[r * vocab + j]! - m);
    const t = targets[r]!;
    if (t < vocab) loss += Math.log(s) + (m - logits[r * vocab + t]!);
    for (let j = 0; j < vocab; j++) {
      const i = r * vocab + j;
      gap[i] = m - logits[i]!;
      p[i] = Math.exp(logits[i]! - m) / s;
      dLogits[i] = t < vocab ? ((p[i]! - (j === t ? 1 : 0)) / rows) * scale : 0;
    }
  }
  return { loss: loss / rows, dLogits, p, gap };
}

// ---- elementwise ---------------------------------------------------------------------------

describe('add', () => {
  const TRIPLES: [Storage, Storage, Storage][] = [
    ['f32', 'f32', 'f32'],
    ['f16', 'f16', 'f16'],
    ['bf16', 'bf16', 'bf16'],
    ['f16', 'bf16', 'f32'],
    ['bf16', 'f32', 'f16'],
    ['f32', 'f16', 'bf16'],
  ];
  it.each(TRIPLES.flatMap(([aS, bS, outS]) => [1, 7, 1001].map((n) => ({ n, aS, bS, outS }))))('n=$n a:$aS b:$bS out:$outS, bit-exact', async ({ n, aS, bS, outS }) => {
    const a = roundToStorage(randoms(n, n, -4, 4), aS);
    const b = roundToStorage(randoms(n, n + 1, -4, 4), bS);
    const aBuf = await upload('a', a, aS);
    const bBuf = await upload('b', b, bS);
    // Pre-filled with ones, so the 0 in the high half of an odd packed tail is the kernel's.
    const out = await fx.upload('out', new Uint32Array(storageBytes(n, outS) / 4).fill(0xffffffff), 'activations');
    fx.submit((enc) => recordAdd(fx.device, enc, { a: aBuf, aStorage: aS, b: bBuf, bStorage: bS, out, outStorage: outS, n }));
    const sum = Float32Array.from(a, (v, i) => v + b[i]!);
    expect([...(await fx.read(out))]).toEqual(words(sum, outS));
  });

  it('adds a buffer to itself (both bindings read-only)', async () => {
    const x = randoms(9, 3);
    const xBuf = await upload('x', x);
    const out = await fx.empty('out', 4 * 9);
    fx.submit((enc) => recordAdd(fx.device, enc, { a: xBuf, aStorage: 'f32', b: xBuf, bStorage: 'f32', out, outStorage: 'f32', n: 9 }));
    expect([...(await readValues(out, 9))]).toEqual([...x].map((v) => 2 * v));
  });
});

describe('accumulate', () => {
  it.each([1, 7, 1001])('n=%i: into += x, twice, bit-exact', async (n) => {
    const x = randoms(n, n + 5);
    const into0 = randoms(n, n + 6);
    const xBuf = await upload('x', x);
    const into = await upload('into', into0);
    fx.submit((enc) => {
      recordAccumulate(fx.device, enc, { x: xBuf, into, n });
      recordAccumulate(fx.device, enc, { x: xBuf, into, n });
    });
    const want = Float32Array.from(into0, (v, i) => Math.fround(Math.fround(v + x[i]!) + x[i]!));
    expect([...(await readValues(into, n))]).toEqual([...want]);
  });
});

// ---- LayerNorm -----------------------------------------------------------------------------

interface LayerNormCase {
  rows: number;
  cols: number;
  xS: Storage;
  yS: Storage;
  offset?: number;
  /** 'workgroup': on a device without subgroups (deviceFor). */
  reduction?: RowReduction;
}

const LN_CASES: LayerNormCase[] = [
  ...([[1, 1], [3, 5], [4, 33], [2, 300]] as const).flatMap(([rows, cols]) => STORAGES.map((s) => ({ rows, cols, xS: s, yS: s }))),
  { rows: 5, cols: 7, xS: 'f32', yS: 'bf16' },
  { rows: 5, cols: 7, xS: 'bf16', yS: 'f16' },
  { rows: 5, cols: 7, xS: 'f16', yS: 'f32' },
  // Rows far from zero: a one-pass E[x²] − mean² would lose the variance to cancellation.
  { rows: 3, cols: 33, xS: 'f32', yS: 'f32', offset: 300 },
  { rows: 2, cols: 300, xS: 'f32', yS: 'f32', reduction: 'workgroup' },
  { rows: 5, cols: 7, xS: 'bf16', yS: 'f16', reduction: 'workgroup' },
];

async function layerNormInputs(c: LayerNormCase, seed: number) {
  const { rows, cols } = c;
  const x = roundToStorage(randoms(rows * cols, seed, -2, 2).map((v) => v + (c.offset ?? 0)), c.xS);
  const gamma = randoms(cols, seed + 1, 0.5, 1.5);
  const beta = randoms(cols, seed + 2, -0.5, 0.5);
  return { x, gamma, beta };
}

describe('layernorm forward', () => {
  it.each(LN_CASES)('$rows×$cols x:$xS y:$yS offset=$offset reduction=$reduction', async (c) => {
    const device = deviceFor(c.reduction);
    const { rows, cols } = c;
    const { x, gamma, beta } = await layerNormInputs(c, rows * 31 + cols);
    const xBuf = await upload('x', x, c.xS);
    const gBuf = await upload('ln.gamma', gamma);
    const bBuf = await upload('ln.beta', beta);
    const y = await fx.upload('y', new Uint32Array(storageBytes(rows * cols, c.yS) / 4).fill(0xffffffff), 'activations');
    const mean = await fx.empty('ln.mean', 4 * rows, 'activations');
    const rstd = await fx.empty('ln.rstd', 4 * rows, 'activations');
    fx.submit((enc) => recordLayerNorm(device, enc, { x: xBuf, xStorage: c.xS, rows, cols, gamma: gBuf, beta: bBuf, y, yStorage: c.yS, mean, rstd }));
    const ref = layerNormRef(x, rows, cols, gamma, beta);
    const rowOf = (i: number) => Math.floor(i / cols);
    expectClose('mean', await readValues(mean, rows), ref.mean, (r) => 2e-6 * ref.meanAbs[r]! + 1e-7);
    expectClose('rstd', await readValues(rstd, rows), ref.rstd, (r) => 1e-5 * ref.rstd[r]!);
    expectClose('y', await readValues(y, rows * cols, c.yS), ref.y, (i) => {
      const r = rowOf(i);
      const j = i % cols;
      const g = Math.abs(gamma[j]!);
      return g * (ref.rstd[r]! * 2e-6 * ref.meanAbs[r]! + 1e-5 * (1 + Math.abs(ref.xhat[i]!))) + 1e-6 * Math.abs(beta[j]!) + OUT_REL[c.yS] * Math.abs(ref.y[i]!) + 1e-7;
    });
    if (c.yS !== 'f32' && (rows * cols) % 2 === 1) expect((await fx.read(y)).at(-1)! >>> 16).toBe(0);
  });

  it('uses the eps it is given', async () => {
    const rows = 2;
    const cols = 6;
    const x = randoms(rows * cols, 4, -0.01, 0.01);
    const gamma = new Float32Array(cols).fill(1);
    const beta = new Float32Array(cols);
    const [xBuf, gBuf, bBuf] = await Promise.all([upload('x', x), upload('ln.gamma', gamma), upload('ln.beta', beta)]);
    const y = await fx.empty('y', 4 * rows * cols);
    const mean = await fx.empty('ln.mean', 4 * rows);
    const rstd = await fx.empty('ln.rstd', 4 * rows);
    fx.submit((enc) => recordLayerNorm(fx.device, enc, { x: xBuf, xStorage: 'f32', rows, cols, gamma: gBuf, beta: bBuf, y, yStorage: 'f32', mean, rstd, eps: 1e-3 }));
    const ref = layerNormRef(x, rows, cols, gamma, beta, 1e-3);
    expectClose('rstd', await readValues(rstd, rows), ref.rstd, (r) => 1e-5 * ref.rstd[r]!);
  });
});

describe('layernorm backward', () => {
  const BACKWARD_CASES: LayerNormCase[] = [
    ...([[1, 1], [3, 5], [4, 33], [9, 70], [2, 300]] as const).map(([rows, cols]) => ({ rows, cols, xS: 'f32' as const, yS: 'f32' as const })),
    { rows: 4, cols: 33, xS: 'f16', yS: 'f16' },
    { rows: 4, cols: 33, xS: 'bf16', yS: 'bf16' },
    { rows: 9, cols: 70, xS: 'f32', yS: 'f32', reduction: 'workgroup' },
    { rows: 4, cols: 33, xS: 'f16', yS: 'f16', reduction: 'workgroup' },
  ];

  it.each(BACKWARD_CASES)('$rows×$cols x:$xS vs the CPU, reduction=$reduction', async (c) => {
    const device = deviceFor(c.reduction);
    const { rows, cols } = c;
    const { x, gamma, beta } = await layerNormInputs(c, rows * 7 + cols);
    const dyValues = randoms(rows * cols, rows + cols);
    const xBuf = await upload('x', x, c.xS);
    const gBuf = await upload('ln.gamma', gamma);
    const bBuf = await upload('ln.beta', beta);
    const dy = await upload('dy', dyValues);
    const y = await fx.empty('y', storageBytes(rows * cols, c.yS));
    const mean = await fx.empty('ln.mean', 4 * rows);
    const rstd = await fx.empty('ln.rstd', 4 * rows);
    // Pre-filled, so "overwritten" is checked.
    const dx = await fx.upload('dx', new Float32Array(rows * cols).fill(9), 'activation-grads');
    const dGamma = await fx.upload('ln.gamma.grad', new Float32Array(cols).fill(9), 'gradients');
    const dBeta = await fx.upload('ln.beta.grad', new Float32Array(cols).fill(9), 'gradients');
    fx.submit((enc) => {
      recordLayerNorm(device, enc, { x: xBuf, xStorage: c.xS, rows, cols, gamma: gBuf, beta: bBuf, y, yStorage: c.yS, mean, rstd });
      recordLayerNormBackward(device, enc, { dy, x: xBuf, xStorage: c.xS, gamma: gBuf, mean, rstd, rows, cols, dx, dGamma, dBeta });
    });
    const ref = layerNormRef(x, rows, cols, gamma, beta);
    const back = layerNormBackwardRef(dyValues, rows, cols, gamma, ref.xhat, ref.rstd);
    expectClose('dx', await readValues(dx, rows * cols), back.dx, (i) => 2e-5 * back.dxMag[i]! + 1e-7);
    expectClose('dGamma', await readValues(dGamma, cols), back.dGamma, (j) => 2e-5 * back.dGammaMag[j]! + 1e-7);
    expectClose('dBeta', await readValues(dBeta, cols), back.dBeta, (j) => 2e-5 * back.dBetaMag[j]! + 1e-7);
  });

  it.each([
    [3, 5],
    [2, 33],
  ])('%i×%i: dx, dγ, dβ match central differences of L = Σ w⊙y on the GPU', async (rows, cols) => {
    const n = rows * cols;
    const x = randoms(n, 100 + n, -2, 2);
    const gamma = randoms(cols, 101 + n, 0.5, 1.5);
    const beta = randoms(cols, 102 + n, -0.5, 0.5);
    const w = randoms(n, 103 + n);
    const xBuf = await upload('x', x);
    const gBuf = await upload('ln.gamma', gamma);
    const bBuf = await upload('ln.beta', beta);
    const wBuf = await upload('w', w);
    const y = await fx.empty('y', 4 * n);
    const mean = await fx.empty('ln.mean', 4 * rows);
    const rstd = await fx.empty('ln.rstd', 4 * rows);
    const dx = await fx.empty('dx', 4 * n);
    const dGamma = await fx.empty('ln.gamma.grad', 4 * cols);
    const dBeta = await fx.empty('ln.beta.grad', 4 * cols);
    fx.submit((enc) => {
      recordLayerNorm(fx.device, enc, { x: xBuf, xStorage: 'f32', rows, cols, gamma: gBuf, beta: bBuf, y, yStorage: 'f32', mean, rstd });
      recordLayerNormBackward(fx.device, enc, { dy: wBuf, x: xBuf, xStorage: 'f32', gamma: gBuf, mean, rstd, rows, cols, dx, dGamma, dBeta });
    });
    const grads = { x: await readValues(dx, n), gamma: await readValues(dGamma, cols), beta: await readValues(dBeta, cols) };

    // L for the given tensors, from the GPU forward, summed in f64.
    const objective = async (xv: Float32Array, gv: Float32Array, bv: Float32Array) => {
      fx.device.queue.writeBuffer(xBuf, 0, xv);
      fx.device.queue.writeBuffer(gBuf, 0, gv);
      fx.device.queue.writeBuffer(bBuf, 0, bv);
      fx.submit((enc) => recordLayerNorm(fx.device, enc, { x: xBuf, xStorage: 'f32', rows, cols, gamma: gBuf, beta: bBuf, y, yStorage: 'f32', mean, rstd }));
      const yv = await readValues(y, n);
      let l = 0;
      for (let i = 0; i < n; i++) l += w[i]! * yv[i]!;
      return l;
    };
    const h = 3e-3;
    const tensors = { x, gamma, beta };
    for (const name of ['x', 'gamma', 'beta'] as const) {
      const t = tensors[name];
      for (const i of [0, Math.floor(t.length / 2), t.length - 1]) {
        const plus = { ...tensors, [name]: Float32Array.from(t) };
        const minus = { ...tensors, [name]: Float32Array.from(t) };
        plus[name][i]! += h;
        minus[name][i]! -= h;
        const lp = await objective(plus.x, plus.gamma, plus.beta);
        const lm = await objective(minus.x, minus.gamma, minus.beta);
        const fd = (lp - lm) / (plus[name][i]! - minus[name][i]!);
        const g = grads[name][i]!;
        expect(Math.abs(fd - g), `d${name}[${i}]: fd ${fd}, kernel ${g}`).toBeLessThanOrEqual(1e-3 + 1e-2 * Math.abs(g));
      }
    }
  });
});

// ---- embedding -----------------------------------------------------------------------------

interface EmbeddingCase {
  batch: number;
  seq: number;
  dim: number;
  vocab: number;
  maxPos: number;
}

const EMB_SHAPES: EmbeddingCase[] = [
  { batch: 1, seq: 1, dim: 1, vocab: 1, maxPos: 1 },
  { batch: 2, seq: 3, dim: 5, vocab: 7, maxPos: 4 },
  { batch: 3, seq: 8, dim: 33, vocab: 11, maxPos: 10 },
];

describe('embedding forward', () => {
  it.each(EMB_SHAPES.flatMap((c) => STORAGES.map((s) => ({ ...c, s }))))('$batch×$seq tokens, dim $dim, vocab $vocab, out:$s, bit-exact', async (c) => {
    const rows = c.batch * c.seq;
    const idValues = randomIds(rows, c.vocab, rows + c.dim);
    const tok = randoms(c.vocab * c.dim, 5 + c.dim);
    const pos = randoms(c.maxPos * c.dim, 6 + c.dim);
    const ids = await fx.upload('ids', idValues);
    const tokenTable = await upload('wte', tok);
    const posTable = await upload('wpe', pos);
    const out = await fx.upload('h0', new Uint32Array(storageBytes(rows * c.dim, c.s) / 4).fill(0xffffffff), 'activations');
    fx.submit((enc) => recordEmbedding(fx.device, enc, { ids, rows, seq: c.seq, dim: c.dim, vocab: c.vocab, tokenTable, posTable, out, outStorage: c.s }));
    const want = Float32Array.from({ length: rows * c.dim }, (_, i) => {
      const r = Math.floor(i / c.dim);
      const d = i % c.dim;
      return tok[idValues[r]! * c.dim + d]! + pos[(r % c.seq) * c.dim + d]!;
    });
    expect([...(await fx.read(out))]).toEqual(words(want, c.s));
  });

  it('reads an id ≥ vocab as a zero token row', async () => {
    const [seq, dim, vocab] = [2, 3, 4];
    const tok = randoms(vocab * dim, 1);
    const pos = randoms(seq * dim, 2);
    const ids = await fx.upload('ids', Uint32Array.of(1, 4));
    const out = await fx.empty('h0', 4 * seq * dim);
    const [tokenTable, posTable] = await Promise.all([upload('wte', tok), upload('wpe', pos)]);
    fx.submit((enc) => recordEmbedding(fx.device, enc, { ids, rows: seq, seq, dim, vocab, tokenTable, posTable, out, outStorage: 'f32' }));
    const want = Float32Array.from({ length: seq * dim }, (_, i) => (i < dim ? tok[dim + i]! : 0) + pos[i]!);
    expect([...(await readValues(out, seq * dim))]).toEqual([...want]);
  });
});

describe('embedding backward', () => {
  it.each(EMB_SHAPES.flatMap((c) => [false, true].map((accumulateToken) => ({ ...c, accumulateToken }))))(
    '$batch×$seq tokens, dim $dim, vocab $vocab, maxPos $maxPos, accumulate=$accumulateToken vs a CPU scatter-add',
    async (c) => {
      const rows = c.batch * c.seq;
      // Few distinct ids, so most are repeated: the sums over tokens are what is tested.
      const idValues = randomIds(rows, Math.min(c.vocab, 3), rows * 3 + c.dim);
      const dOutValues = randoms(rows * c.dim, 40 + c.dim);
      const prior = randoms(c.vocab * c.dim, 41 + c.dim);
      const ids = await fx.upload('ids', idValues);
      const dOut = await upload('h0.grad', dOutValues);
      const dToken = await upload('wte.grad', prior);
      // Pre-filled: rows ≥ seq must come back 0, rows < seq overwritten.
      const dPos = await upload('wpe.grad', new Float32Array(c.maxPos * c.dim).fill(7));
      fx.submit((enc) =>
        recordEmbeddingBackward(fx.device, enc, { ids, rows, seq: c.seq, dim: c.dim, vocab: c.vocab, dOut, dToken, accumulateToken: c.accumulateToken, dPos, maxPos: c.maxPos }),
      );
      const wantToken = Float64Array.from({ length: c.vocab * c.dim }, (_, i) => (c.accumulateToken ? prior[i]! : 0));
      const magToken = Float64Array.from(wantToken, Math.abs);
      const wantPos = new Float64Array(c.maxPos * c.dim);
      const magPos = new Float64Array(c.maxPos * c.dim);
      for (let r = 0; r < rows; r++)
        for (let d = 0; d < c.dim; d++) {
          const g = dOutValues[r * c.dim + d]!;
          wantToken[idValues[r]! * c.dim + d]! += g;
          magToken[idValues[r]! * c.dim + d]! += Math.abs(g);
          wantPos[(r % c.seq) * c.dim + d]! += g;
          magPos[(r % c.seq) * c.dim + d]! += Math.abs(g);
        }
      expectClose('dToken', await readValues(dToken, c.vocab * c.dim), wantToken, (i) => 1e-6 * magToken[i]!);
      expectClose('dPos', await readValues(dPos, c.maxPos * c.dim), wantPos, (i) => 1e-6 * magPos[i]!);
    },
  );

  it('gives an id ≥ vocab no gradient', async () => {
    const [seq, dim, vocab] = [3, 2, 2];
    const ids = await fx.upload('ids', Uint32Array.of(0, 2, 0xffffffff));
    const dOutValues = randoms(seq * dim, 9);
    const dOut = await upload('h0.grad', dOutValues);
    const dToken = await fx.empty('wte.grad', 4 * vocab * dim);
    const dPos = await fx.empty('wpe.grad', 4 * seq * dim);
    fx.submit((enc) => recordEmbeddingBackward(fx.device, enc, { ids, rows: seq, seq, dim, vocab, dOut, dToken, accumulateToken: false, dPos, maxPos: seq }));
    expect([...(await readValues(dToken, vocab * dim))]).toEqual([dOutValues[0]!, dOutValues[1]!, 0, 0]);
  });
});

// ---- cross-entropy -------------------------------------------------------------------------

describe('cross-entropy', () => {
  async function runCrossEntropy(logits: Float32Array, s: Storage, targetValues: Uint32Array, rows: number, vocab: number, scale = 1, device = fx.device) {
    const logitsBuf = await upload('logits', logits, s);
    const targets = await fx.upload('targets', targetValues);
    const loss = await fx.upload('loss', new Float32Array(CROSS_ENTROPY_LOSS_BYTES / 4).fill(NaN));
    const dLogits = await fx.upload('logits.grad', new Float32Array(rows * vocab).fill(9), 'activation-grads');
    const lossScale = await upload('lossScale', Float32Array.of(scale));
    fx.submit((enc) => recordCrossEntropy(device, enc, { logits: logitsBuf, logitsStorage: s, targets, rows, vocab, loss, dLogits, lossScale }));
    const value = (await readValues(loss, 1))[0]!;
    const grad = await readValues(dLogits, rows * vocab);
    for (const b of [logitsBuf, targets, loss, dLogits, lossScale]) fx.ledger.destroy(b);
    return { value, grad };
  }

  function check(got: { value: number; grad: Float32Array }, logits: Float32Array, targets: Uint32Array, rows: number, vocab: number, scale: number) {
    const ref = crossEntropyRef(logits, targets, rows, vocab, scale);
    expect(Math.abs(got.value - ref.loss), `loss ${got.value} vs ${ref.loss}`).toBeLessThanOrEqual(1e-5 * (ref.loss + 1));
    const k = scale / rows;
    expectClose('dLogits', got.grad, ref.dLogits, (i) => k * (1e-5 * (1 + ref.gap[i]!) * ref.p[i]! + 2e-6));
  }

  const SHAPES = [
    [1, 2],
    [3, 5],
    [5, 300],
    [2, 1001],
    // More rows than partial sums: workgroups take two rows or one.
    [CROSS_ENTROPY_PARTIALS + 44, 3],
  ] as const;

  it.each(SHAPES.flatMap(([rows, vocab]) => STORAGES.map((s) => [rows, vocab, s] as const)))('%i×%i logits in %s vs the CPU', async (rows, vocab, s) => {
    const logits = roundToStorage(randoms(rows * vocab, rows * vocab, -4, 4), s);
    const targets = randomIds(rows, vocab, rows + vocab);
    for (const scale of [1, 1024]) check(await runCrossEntropy(logits, s, targets, rows, vocab, scale), logits, targets, rows, vocab, scale);
  });

  it.each([
    [5, 300, 'f16'],
    [CROSS_ENTROPY_PARTIALS + 44, 3, 'f32'],
  ] as const)('%i×%i logits in %s vs the CPU without subgroups', async (rows, vocab, s) => {
    const logits = roundToStorage(randoms(rows * vocab, rows * vocab, -4, 4), s);
    const targets = randomIds(rows, vocab, rows + vocab);
    check(await runCrossEntropy(logits, s, targets, rows, vocab, 1024, deviceFor('workgroup')), logits, targets, rows, vocab, 1024);
  });

  it.each(STORAGES)('large logits in %s stay finite and match the CPU', async (s) => {
    const [rows, vocab] = [4, 37];
    // Up to 6e4 (f16's max is 65504): exp(logit) overflows f32 past 88.7 without the max shift.
    const logits = roundToStorage(randoms(rows * vocab, 77, 1e4, 6e4), s);
    const targets = randomIds(rows, vocab, 78);
    // Row 3: the target is the max by far, so p_t rounds to 1 and the loss to 0.
    let best = 0;
    for (let j = 0; j < vocab; j++) if (logits[3 * vocab + j]! > logits[3 * vocab + best]!) best = j;
    targets[3] = best;
    for (let j = 0; j < vocab; j++) if (j !== best) logits[3 * vocab + j] = roundToStorage(Float32Array.of(logits[3 * vocab + best]! - 5e3), s)[0]!;
    const got = await runCrossEntropy(logits, s, targets, rows, vocab);
    expect(Number.isFinite(got.value)).toBe(true);
    expect(got.grad.every(Number.isFinite)).toBe(true);
    check(got, logits, targets, rows, vocab, 1);
  });

  it('a target ≥ vocab contributes no loss and a zero dLogits row', async () => {
    const [rows, vocab] = [3, 5];
    const logits = randoms(rows * vocab, 3);
    const targets = Uint32Array.of(2, 0xffffffff, 4);
    const got = await runCrossEntropy(logits, 'f32', targets, rows, vocab);
    check(got, logits, targets, rows, vocab, 1);
    expect([...got.grad.slice(vocab, 2 * vocab)]).toEqual([0, 0, 0, 0, 0]);
  });

  it.each([
    [3, 7],
    [2, 300],
  ])('%i×%i: dLogits match central differences of the GPU loss', async (rows, vocab) => {
    const logits = randoms(rows * vocab, 5 * vocab, -3, 3);
    const targets = randomIds(rows, vocab, 6 * vocab);
    const { grad } = await runCrossEntropy(logits, 'f32', targets, rows, vocab);
    const h = 0.05;
    const picks = [0, vocab - 1, targets[0]!, (rows - 1) * vocab + targets[rows - 1]!, Math.floor((rows * vocab) / 2)];
    for (const i of picks) {
      const plus = Float32Array.from(logits);
      const minus = Float32Array.from(logits);
      plus[i]! += h;
      minus[i]! -= h;
      const lp = (await runCrossEntropy(plus, 'f32', targets, rows, vocab)).value;
      const lm = (await runCrossEntropy(minus, 'f32', targets, rows, vocab)).value;
      const fd = (lp - lm) / (plus[i]! - minus[i]!);
      expect(Math.abs(fd - grad[i]!), `i=${i}: fd ${fd}, kernel ${grad[i]}`).toBeLessThanOrEqual(1e-4 + 2e-2 * Math.abs(grad[i]!));
    }
  });
});

// ---- dispatch split and argument checks -------------------------------------------------------

describe('dispatch split', () => {
  it('covers every element when maxComputeWorkgroupsPerDimension forces a y dimension', async () => {
    const small = smallDevice(fx.device);
    // add: 1025 pairs → 5 groups of 256 (x=3, y=2); accumulate: 1001 → 4 groups.
    const n = 2049;
    const a = randoms(n, 1);
    const b = randoms(n, 2);
    const [aBuf, bBuf] = await Promise.all([upload('a', a), upload('b', b)]);
    const sum = await fx.empty('sum', storageBytes(n, 'bf16'));
    const into = await upload('into', b);
    // LayerNorm: 7 rows → 7 row groups (x=3, y=3, two spare); 129 columns → 5 column groups.
    const [rows, cols] = [7, 129];
    const x = randoms(rows * cols, 3, -2, 2);
    const gamma = randoms(cols, 4, 0.5, 1.5);
    const beta = randoms(cols, 5);
    const dyValues = randoms(rows * cols, 6);
    const [xBuf, gBuf, beBuf, dy] = await Promise.all([upload('x', x), upload('ln.gamma', gamma), upload('ln.beta', beta), upload('dy', dyValues)]);
    const y = await fx.empty('y', storageBytes(rows * cols, 'f16'));
    const mean = await fx.empty('ln.mean', 4 * rows);
    const rstd = await fx.empty('ln.rstd', 4 * rows);
    const dx = await fx.empty('dx', 4 * rows * cols);
    const dGamma = await fx.empty('ln.gamma.grad', 4 * cols);
    const dBeta = await fx.empty('ln.beta.grad', 4 * cols);
    // Embedding: 13×65 table → 4 groups; 7 rows of cross-entropy → 7 groups.
    const [seq, dim, vocab, maxPos] = [7, 65, 13, 9];
    const idValues = randomIds(seq, vocab, 7);
    const ids = await fx.upload('ids', idValues);
    const dOut = await upload('h0.grad', randoms(seq * dim, 8));
    const dToken = await fx.empty('wte.grad', 4 * vocab * dim);
    const dPos = await fx.empty('wpe.grad', 4 * maxPos * dim);
    const logits = randoms(seq * vocab, 9, -3, 3);
    const logitsBuf = await upload('logits', logits);
    const loss = await fx.empty('loss', CROSS_ENTROPY_LOSS_BYTES);
    const dLogits = await fx.empty('logits.grad', 4 * seq * vocab);
    const lossScale = await upload('lossScale', Float32Array.of(1));
    fx.submit((enc) => {
      recordAdd(small, enc, { a: aBuf, aStorage: 'f32', b: bBuf, bStorage: 'f32', out: sum, outStorage: 'bf16', n });
      recordAccumulate(small, enc, { x: aBuf, into, n: 1001 });
      recordLayerNorm(small, enc, { x: xBuf, xStorage: 'f32', rows, cols, gamma: gBuf, beta: beBuf, y, yStorage: 'f16', mean, rstd });
      recordLayerNormBackward(small, enc, { dy, x: xBuf, xStorage: 'f32', gamma: gBuf, mean, rstd, rows, cols, dx, dGamma, dBeta });
      recordEmbeddingBackward(small, enc, { ids, rows: seq, seq, dim, vocab, dOut, dToken, accumulateToken: false, dPos, maxPos });
      recordCrossEntropy(small, enc, { logits: logitsBuf, logitsStorage: 'f32', targets: ids, rows: seq, vocab, loss, dLogits, lossScale });
    });
    expect([...(await fx.read(sum))]).toEqual(words(Float32Array.from(a, (v, i) => v + b[i]!), 'bf16'));
    const acc = await readValues(into, n);
    expect([...acc.slice(0, 1001)]).toEqual([...Float32Array.from(b.slice(0, 1001), (v, i) => v + a[i]!)]);
    expect([...acc.slice(1001)]).toEqual([...b.slice(1001)]);
    const ref = layerNormRef(x, rows, cols, gamma, beta);
    expectClose('y', await readValues(y, rows * cols, 'f16'), ref.y, (i) => 1e-4 + OUT_REL.f16 * Math.abs(ref.y[i]!));
    const back = layerNormBackwardRef(dyValues, rows, cols, gamma, ref.xhat, ref.rstd);
    expectClose('dx', await readValues(dx, rows * cols), back.dx, (i) => 2e-5 * back.dxMag[i]! + 1e-7);
    expectClose('dGamma', await readValues(dGamma, cols), back.dGamma, (j) => 2e-5 * back.dGammaMag[j]! + 1e-7);
    expectClose('dBeta', await readValues(dBeta, cols), back.dBeta, (j) => 2e-5 * back.dBetaMag[j]! + 1e-7);
    const tokenRows = new Set(idValues);
    const gotToken = await readValues(dToken, vocab * dim);
    for (let v = 0; v < vocab; v++) expect(gotToken.slice(v * dim, (v + 1) * dim).some((g) => g !== 0), `dToken row ${v}`).toBe(tokenRows.has(v));
    const gotPos = await readValues(dPos, maxPos * dim);
    expect(gotPos.slice(0, seq * dim).every((g) => g !== 0)).toBe(true);
    expect(gotPos.slice(seq * dim).every((g) => g === 0)).toBe(true);
    const ce = crossEntropyRef(logits, idValues, seq, vocab, 1);
    expect(Math.abs((await readValues(loss, 1))[0]! - ce.loss)).toBeLessThanOrEqual(1e-5 * (ce.loss + 1));
    expectClose('dLogits', await readValues(dLogits, seq * vocab), ce.dLogits, () => 1e-6);
  });
});

describe('argument checks', () => {
  it('names the buffer, the size or the rule that is wrong', async () => {
    const d = fx.device;
    const enc = d.createCommandEncoder({ label: 'test.unused' });
    const b16 = await fx.empty('b16', 16);
    const b64 = await fx.empty('b64', 64);
    const other = await fx.empty('other', 64);
    expect(() => recordAdd(d, enc, { a: b16, aStorage: 'f32', b: b16, bStorage: 'f32', out: b16, outStorage: 'f32', n: 4 })).toThrow(/must differ from a and b/);
    expect(() => recordAdd(d, enc, { a: b16, aStorage: 'f32', b: b64, bStorage: 'f32', out: other, outStorage: 'f32', n: 5 })).toThrow(/a buffer '[^']*b16' has 16 B, needs 20 B/);
    expect(() => recordAccumulate(d, enc, { x: b16, into: b16, n: 4 })).toThrow(/same buffer/);
    expect(() => recordAccumulate(d, enc, { x: b16, into: b64, n: 0 })).toThrow(/n must be an integer/);
    const ln = { x: b64, xStorage: 'f32', rows: 2, cols: 2, gamma: b16, beta: b16, y: other, yStorage: 'f32', mean: b16, rstd: b64 } as const;
    expect(() => recordLayerNorm(d, enc, ln)).toThrow(/mean and gamma are the same buffer/);
    expect(() => recordLayerNorm(d, enc, { ...ln, mean: other, eps: -1 })).toThrow(/eps must be finite/);
    expect(() => recordLayerNormBackward(d, enc, { dy: b64, x: b64, xStorage: 'f32', gamma: b16, mean: b16, rstd: b16, rows: 2, cols: 2, dx: b64, dGamma: other, dBeta: other })).toThrow(/dx and dy are the same buffer/);
    const emb = { ids: b16, rows: 4, seq: 3, dim: 2, vocab: 2, tokenTable: b16, posTable: b64, out: other, outStorage: 'f32' } as const;
    expect(() => recordEmbedding(d, enc, emb)).toThrow(/multiple of seq/);
    expect(() => recordEmbeddingBackward(d, enc, { ids: b16, rows: 3, seq: 3, dim: 2, vocab: 2, dOut: b64, dToken: b16, accumulateToken: true, dPos: other, maxPos: 2 })).toThrow(/maxPos \(2\) must be an integer ≥ seq \(3\)/);
    const b32 = await fx.empty('b32', 32);
    const loss = await fx.empty('loss', CROSS_ENTROPY_LOSS_BYTES);
    expect(() => recordCrossEntropy(d, enc, { logits: b64, logitsStorage: 'bf16', targets: b16, rows: 4, vocab: 3, loss, dLogits: b32, lossScale: b16 })).toThrow(/dLogits buffer '[^']*b32' has 32 B, needs 48 B/);
    expect(() => recordCrossEntropy(d, enc, { logits: b64, logitsStorage: 'bf16', targets: b16, rows: 4, vocab: 3, loss: other, dLogits: b64, lossScale: b16 })).toThrow(new RegExp(`loss buffer '[^']*other' has 64 B, needs ${CROSS_ENTROPY_LOSS_BYTES} B`));
    expect(() => recordCrossEntropy(d, enc, { logits: b64, logitsStorage: 'f32', targets: b16, rows: 2, vocab: 2, loss, dLogits: loss, lossScale: b16 })).toThrow(/distinct/);
    enc.finish();
  });
});
