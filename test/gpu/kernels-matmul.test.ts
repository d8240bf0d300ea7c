/**
 * The tiled matmul against the f64 CPU reference and against the reference kernel, for every
 * candidate tile size: shapes that leave partial tiles on every edge (M, N not multiples of
 * the tile, K not a multiple of TK, K below TK), every transpose, packed operands and outputs,
 * every epilogue, and a grid split over two dimensions; and the vector loads and stores
 * (lanes) that contiguous dimensions in multiples of 4 allow, alone and mixed with element
 * loads. Tolerances as in kernels.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  FALLBACK_MATMUL_TILES,
  MATMUL_TILE_CANDIDATES,
  fallbackMatmulTraits,
  matmulTiles,
  matmulLanes,
  matmulTilesFor,
  matmulSplitK,
  matmulTraits,
  recordMatmul,
  setMatmulTiles,
  setMatmulTraits,
  splitKWorkspaceBytes,
  tileCols,
  tileRows,
  tilesProblem,
  type MatmulArgs,
  type MatmulKernel,
  type MatmulTiles,
  type MatmulTraits,
} from '../../src/engine/kernels/matmul.ts';
import { recordPlainMatmul } from '../../src/engine/kernels/matmul-plain.ts';
import { matmulAgainstPlain, matmulPrefetchComparison, matmulSplitKComparison } from '../../src/cli/bench.ts';
import { decodeStorage, encodeStorage, roundToStorage, storageBytes, type Storage } from '../../src/engine/kernels/storage.ts';
import { useGpuFixture } from './fixture.ts';
import { randoms } from '../helpers/random.ts';
import { OUT_REL, F32_REL, act, actGrad, expectClose, matmulOperands, TRANSPOSES, type MatmulCase } from '../helpers/reference.ts';

const fx = useGpuFixture('test.kernels-matmul');

let defaultTiles: MatmulTiles | undefined;
let defaultTraits: MatmulTraits | undefined;
afterEach(() => {
  // Every test that sets tiles or traits leaves the device's default behind it.
  if (defaultTiles) setMatmulTiles(fx.device, defaultTiles);
  if (defaultTraits) setMatmulTraits(fx.device, defaultTraits);
});

function useTiles(t: MatmulTiles): void {
  defaultTiles ??= matmulTiles(fx.device);
  setMatmulTiles(fx.device, t);
}

const tileName = (t: MatmulTiles) => `${tileRows(t)}×${tileCols(t)} (${t.tm}×${t.tn} per invocation, tk ${t.tk})`;




async function runPlain(c: MatmulCase, kernel: MatmulKernel, aBuf: GPUBuffer, bBuf: GPUBuffer, device: GPUDevice = fx.device, bias?: GPUBuffer, extra: Partial<MatmulArgs> = {}): Promise<Float32Array> {
  const out = await fx.empty(`out.${kernel}`, storageBytes(c.M * c.N, c.outS), 'activations');
  fx.submit((enc) =>
    recordMatmul(device, enc, {
      M: c.M, N: c.N, K: c.K,
      a: aBuf, aStorage: c.aS, aTransposed: c.aT,
      b: bBuf, bStorage: c.bS, bTransposed: c.bT,
      out, outStorage: c.outS, kernel, bias, ...extra,
    }),
  );
  return decodeStorage(await fx.read(out), c.M * c.N, c.outS);
}

const TRIPLES: [Storage, Storage, Storage][] = [
  ['f32', 'f32', 'f32'],
  ['bf16', 'f16', 'f16'],
  ['f16', 'bf16', 'bf16'],
];

describe('tile choice', () => {
  it('starts a CPU (fallback) adapter on the tiles that compile fast, others on the largest that fits', () => {
    // The fixture's device is SwiftShader's, which reports itself as a fallback adapter.
    expect(matmulTiles(fx.device)).toEqual(FALLBACK_MATMUL_TILES);
    // …without the register prefetch (slower there), split-K filling one workgroup per core
    // (navigator's count where there is one: Node before 21 has none, and the CLI sets its own).
    expect(matmulTraits(fx.device)).toEqual(fallbackMatmulTraits(globalThis.navigator?.hardwareConcurrency ?? 4));
    expect(matmulTraits(fx.device).prefetch).toBe(false);
  });

  it('accepts every candidate on this device and names what a bad one breaks', () => {
    for (const t of MATMUL_TILE_CANDIDATES) expect(tilesProblem(fx.device, t), tileName(t)).toBeNull();
    expect(tilesProblem(fx.device, { tm: 4, tn: 6, wgx: 8, wgy: 8, tk: 8 })).toMatch(/tn must be a multiple of 4/);
    expect(tilesProblem(fx.device, { tm: 4, tn: 4, wgx: 8, wgy: 8, tk: 6 })).toMatch(/tk must be a multiple of 4/);
    expect(tilesProblem(fx.device, { tm: 4, tn: 4, wgx: 32, wgy: 32, tk: 8 })).toMatch(/maxComputeInvocationsPerWorkgroup/);
    expect(tilesProblem(fx.device, { tm: 16, tn: 16, wgx: 16, wgy: 16, tk: 64 })).toMatch(/maxComputeWorkgroupStorageSize/);
    expect(() => setMatmulTiles(fx.device, { tm: 0, tn: 2, wgx: 8, wgy: 8, tk: 8 })).toThrow(/tm must be a positive integer/);
  });

  it('shrinks the tile for small outputs and keeps the device tile for large ones', () => {
    useTiles(MATMUL_TILE_CANDIDATES.at(-1)!);
    expect(matmulTilesFor(fx.device, 4096, 4096)).toEqual(MATMUL_TILE_CANDIDATES.at(-1));
    const small = matmulTilesFor(fx.device, 16, 4096);
    expect(tileRows(small)).toBeLessThanOrEqual(32);
    const mid = matmulTilesFor(fx.device, 100, 70);
    expect(tileRows(mid)).toBeLessThanOrEqual(100);
    expect(tileCols(mid)).toBeLessThanOrEqual(70);
    expect(tileRows(mid) * tileCols(mid)).toBeGreaterThan(32 * 32);
  });
});

describe.each(MATMUL_TILE_CANDIDATES.map((t, i) => [tileName(t), t, i] as const))('tiled matmul, tiles %s', (_, tiles, index) => {
  // A whole tile and a partial one in each dimension of out, K past two slices and a remainder.
  const M = tileRows(tiles) + 5;
  const N = tileCols(tiles) + 6;
  // Every transpose × storage triple on the smallest and the largest tiles; on those between,
  // every transpose with the triples in turn (each tile still meets every transpose and every
  // triple): each case is a pipeline of its own, and compiling one is most of a test's time.
  const full = index === 0 || index === MATMUL_TILE_CANDIDATES.length - 1;
  const cases: MatmulCase[] = TRANSPOSES.flatMap(([aT, bT], t) =>
    TRIPLES.filter((_, i) => full || i === (t + index) % 3).map(([aS, bS, outS]) => ({ M, N, K: 2 * tiles.tk + 3, aT, bT, aS, bS, outS })),
  );

  it.each(cases)('$M×$N×$K aT=$aT bT=$bT A:$aS B:$bS out:$outS', async (c) => {
    useTiles(tiles);
    expect(matmulTilesFor(fx.device, M, N)).toEqual(tiles);
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, c.M + c.K);
    const got = await runPlain(c, 'tiled', aBuf, bBuf);
    expectClose('out', got, ref, (i) => F32_REL * mag[i]! + OUT_REL[c.outS] * Math.abs(ref[i]!) + 1e-7);
  });
});

// Lanes: 4 for f32 (vec4<u32>), 2 for packed (vec2<u32>), where the contiguous dimension is a multiple of 4.
const lanesOf = (s: Storage, inner: number) => (inner % 4 !== 0 ? 1 : s === 'f32' ? 4 : 2);

describe.each([0, 3].map((i) => [tileName(MATMUL_TILE_CANDIDATES[i]!), MATMUL_TILE_CANDIDATES[i]!] as const))('tiled matmul with lanes, tiles %s', (_, tiles) => {
  // Partial tiles on every edge with every contiguous dimension a multiple of 4 (all lanes),
  // then M odd (A_T falls back to element loads beside B's and out's lanes) with a bias.
  const BM = tileRows(tiles);
  const BN = tileCols(tiles);
  const all: MatmulCase[] = TRANSPOSES.flatMap(([aT, bT], t) =>
    TRIPLES.filter((_, i) => tiles === MATMUL_TILE_CANDIDATES[0] || i === t % 3).map(([aS, bS, outS]) => ({ M: BM + 4, N: BN + 8, K: 2 * tiles.tk + 4, aT, bT, aS, bS, outS })),
  );
  const mixed: MatmulCase[] = TRANSPOSES.map(([aT, bT], t) => {
    const [aS, bS, outS] = TRIPLES[(t + 1) % 3]!;
    return { M: BM + 3, N: BN + 4, K: tiles.tk + 4, aT, bT, aS, bS, outS };
  });

  it.each([...all, ...mixed])('$M×$N×$K aT=$aT bT=$bT A:$aS B:$bS out:$outS', async (c) => {
    useTiles(tiles);
    const lanes = matmulLanes({ M: c.M, N: c.N, K: c.K, aStorage: c.aS, aTransposed: c.aT, bStorage: c.bS, bTransposed: c.bT, outStorage: c.outS });
    expect(lanes).toEqual({ a: lanesOf(c.aS, c.aT ? c.M : c.K), b: lanesOf(c.bS, c.bT ? c.K : c.N), out: lanesOf(c.outS, c.N), act: 1, pre: 1 });
    expect(lanes.b).toBeGreaterThan(1);
    const withBias = c.M % 4 !== 0;
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, c.M + 2 * c.K);
    const biasValues = randoms(c.N, 43);
    const bias = withBias ? await fx.upload('bias', biasValues) : undefined;
    const got = await runPlain(c, 'tiled', aBuf, bBuf, fx.device, bias);
    const want = withBias ? ref.map((v, i) => v + biasValues[i % c.N]!) : ref;
    const biasMag = (i: number) => (withBias ? Math.abs(biasValues[i % c.N]!) : 0);
    expectClose('out', got, want, (i) => F32_REL * (mag[i]! + biasMag(i)) + OUT_REL[c.outS] * Math.abs(want[i]!) + 1e-7);
  });
});

describe('tiled matmul edges', () => {
  it.each([
    [3, 5, 1],
    [1, 1, 1],
    [19, 1, 40],
    [1, 37, 5],
    [21, 23, 3],
  ] as const)('%i×%i×%i in f32 matches the reference kernel', async (M, N, K) => {
    useTiles(MATMUL_TILE_CANDIDATES[2]!);
    const c: MatmulCase = { M, N, K, aT: false, bT: true, aS: 'f32', bS: 'f32', outS: 'f32' };
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 3);
    const tiled = await runPlain(c, 'tiled', aBuf, bBuf);
    const reference = await runPlain(c, 'reference', aBuf, bBuf);
    const tol = (i: number) => F32_REL * mag[i]! + 1e-7;
    expectClose('tiled', tiled, ref, tol);
    expectClose('tiled vs reference', tiled, reference, (i) => 2 * tol(i));
  });

  it('leaves a packed output with an odd N to the reference kernel, every word whole', async () => {
    const c: MatmulCase = { M: 9, N: 7, K: 5, aT: false, bT: false, aS: 'f32', bS: 'f32', outS: 'f16' };
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 41);
    const got = await runPlain(c, 'tiled', aBuf, bBuf);
    expectClose('out', got, ref, (i) => F32_REL * mag[i]! + OUT_REL.f16 * Math.abs(ref[i]!) + 1e-7);
  });

  it('covers every tile when maxComputeWorkgroupsPerDimension splits the grid', async () => {
    const real = fx.device;
    const limits: Record<string, number> = {};
    for (const key in real.limits) limits[key] = (real.limits as unknown as Record<string, number>)[key]!;
    const small = new Proxy(real, {
      get(target, key) {
        if (key === 'limits') return { ...limits, maxComputeWorkgroupsPerDimension: 3 };
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    useTiles(MATMUL_TILE_CANDIDATES[0]!);
    // 32×32 tiles: 4 × 3 = 12 workgroups → x 3, y 4.
    const c: MatmulCase = { M: 100, N: 70, K: 11, aT: false, bT: false, aS: 'f32', bS: 'f32', outS: 'bf16' };
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 5);
    const got = await runPlain(c, 'tiled', aBuf, bBuf, small);
    expectClose('out', got, ref, (i) => F32_REL * mag[i]! + OUT_REL.bf16 * Math.abs(ref[i]!) + 1e-7);
  });
});

describe('tiled matmul epilogues', () => {
  const tiles = MATMUL_TILE_CANDIDATES[1]!;
  const shapes = [
    [2 * tileRows(tiles) + 3, 2 * tileCols(tiles) + 2, 19],
    [tileRows(tiles) + 1, tileCols(tiles) + 1, 9],
    // N a multiple of 4: out, act and pre with lanes.
    [tileRows(tiles) + 3, tileCols(tiles) + 4, 12],
  ] as const;

  it.each([
    ['relu', 'f32', 'f32'],
    ['gelu', 'f32', 'f32'],
    ['gelu', 'bf16', 'f16'],
    ['relu', 'f16', 'bf16'],
  ] as const)('bias and %s: pre in %s, act in %s', async (fn, preS, actS) => {
    useTiles(tiles);
    for (const [M, N, K] of shapes) {
      const c: MatmulCase = { M, N, K, aT: false, bT: false, aS: 'bf16', bS: 'f32', outS: preS };
      const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 17);
      const biasValues = randoms(N, 19);
      const bias = await fx.upload('bias', biasValues);
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
      expectClose('pre', decodeStorage(await fx.read(pre), M * N, preS), refPre, (i) => tolPre(i) + OUT_REL[preS] * Math.abs(refPre[i]!));
      const refAct = refPre.map((v) => act(fn, v));
      expectClose('act', decodeStorage(await fx.read(actBuf), M * N, actS), refAct, (i) => 1.2 * tolPre(i) + OUT_REL[actS] * Math.abs(refAct[i]!) + 1e-7);
      fx.ledger.dispose();
    }
  });

  it.each([
    ['relu', 'f32', 'f32'],
    ['gelu', 'f32', 'f32'],
    ['gelu', 'bf16', 'f16'],
    ['relu', 'f16', 'bf16'],
  ] as const)('times %s′(pre): pre in %s, out in %s', async (fn, preS, outS) => {
    useTiles(tiles);
    for (const [M, N, K] of shapes) {
      const c: MatmulCase = { M, N, K, aT: false, bT: true, aS: 'f32', bS: 'f16', outS };
      const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 29);
      const preValues = roundToStorage(randoms(M * N, 31, -3, 3), preS);
      const pre = await fx.upload('pre', encodeStorage(preValues, preS));
      const out = await fx.empty('dPre', storageBytes(M * N, outS), 'activation-grads');
      fx.submit((enc) =>
        recordMatmul(fx.device, enc, {
          M, N, K, a: aBuf, aStorage: 'f32', aTransposed: false, b: bBuf, bStorage: c.bS, bTransposed: true,
          out, outStorage: outS, epilogue: { kind: 'activation-grad', fn, pre, preStorage: preS },
        }),
      );
      const want = ref.map((v, i) => v * actGrad(fn, preValues[i]!));
      expectClose('dPre', decodeStorage(await fx.read(out), M * N, outS), want, (i) => 1.2 * F32_REL * mag[i]! + OUT_REL[outS] * Math.abs(want[i]!) + 1e-6);
      fx.ledger.dispose();
    }
  });
});

describe('tiled matmul with the next k-slice prefetched into registers', () => {
  // One case per storage triple and tile (each a pipeline of its own), transposes rotating:
  // the A_T and B_T vector loads, element loads, a partial last slice; K spans three slices
  // or more, so a prefetched slice is stored after a computed one.
  const t = MATMUL_TILE_CANDIDATES;
  it.each(([
    [t[1]!, { M: 36, N: 40, K: 68, aT: true, bT: false, aS: 'f32', bS: 'f32', outS: 'f32' }],
    [t[1]!, { M: 37, N: 38, K: 67, aT: false, bT: true, aS: 'bf16', bS: 'f16', outS: 'f16' }],
    [t[2]!, { M: 68, N: 70, K: 20, aT: true, bT: true, aS: 'f16', bS: 'bf16', outS: 'bf16' }],
    [t[0]!, { M: 36, N: 40, K: 21, aT: false, bT: false, aS: 'f32', bS: 'bf16', outS: 'f32' }],
  ] as [MatmulTiles, MatmulCase][]).map(([tiles, c]) => ({ ...c, tiles, name: tileName(tiles) })))('$name: $M×$N×$K aT=$aT bT=$bT A:$aS B:$bS out:$outS', async ({ tiles, ...c }) => {
    useTiles(tiles);
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, c.M + 3 * c.K);
    const got = await runPlain(c, 'tiled', aBuf, bBuf, fx.device, undefined, { prefetch: true });
    expectClose('out', got, ref, (i) => F32_REL * mag[i]! + OUT_REL[c.outS] * Math.abs(ref[i]!) + 1e-7);
  });
});

describe('split-K', () => {
  const useTraits = (t: MatmulTraits) => {
    defaultTraits ??= matmulTraits(fx.device);
    setMatmulTraits(fx.device, t);
  };
  /** The f32 workspace's slices summed in order, per element: what the split kernel computed before its epilogue. */
  const slicesSum = (ws: Float32Array, slices: number, n: number) => Float32Array.from({ length: n }, (_, e) => {
    let s = 0;
    for (let i = 0; i < slices; i++) s += ws[i * n + e]!;
    return s;
  });

  // 32×32 tiles, tk 8. K cut into slices of a multiple of 8 with a shorter last one
  // (203 = 72 + 72 + 59; 150 = 4 × 40 − 10; 100 = 4 × 24 + 4); partial tiles; each storage
  // triple and epilogue once, transposes rotating; an odd N with a packed output (the
  // reduction writes whole words).
  it('f32 Xᵀ·dY with a bias, 3 slices, prefetching: matches the reference and gives the same bits twice', async () => {
    useTiles(FALLBACK_MATMUL_TILES);
    const c: MatmulCase = { M: 37, N: 22, K: 203, aT: true, bT: false, aS: 'f32', bS: 'f32', outS: 'f32' };
    const plan = matmulSplitK(fx.device, c.M, c.N, c.K, 3);
    expect(plan).toEqual({ slices: 3, kSlice: 72 });
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 61);
    const biasValues = randoms(c.N, 62);
    const bias = await fx.upload('bias', biasValues);
    const ws = await fx.empty('splitK', splitKWorkspaceBytes(plan, c.M, c.N));
    const extra = { splitK: 3, splitKWorkspace: ws, prefetch: true };
    const got = await runPlain(c, 'tiled', aBuf, bBuf, fx.device, bias, extra);
    const want = ref.map((v, i) => v + biasValues[i % c.N]!);
    expectClose('out', got, want, (i) => F32_REL * (mag[i]! + Math.abs(biasValues[i % c.N]!)) + 1e-7);
    expectClose('workspace slices', slicesSum(decodeStorage(await fx.read(ws), 3 * c.M * c.N, 'f32'), 3, c.M * c.N), ref, (i) => F32_REL * mag[i]! + 1e-7);
    expect(await runPlain(c, 'tiled', aBuf, bBuf, fx.device, bias, extra)).toEqual(got);
  });

  it('bf16·f16ᵀ into f16 with an odd N, bias and relu into bf16, 4 slices', async () => {
    useTiles(FALLBACK_MATMUL_TILES);
    const c: MatmulCase = { M: 20, N: 13, K: 150, aT: false, bT: true, aS: 'bf16', bS: 'f16', outS: 'f16' };
    const { M, N } = c;
    const plan = matmulSplitK(fx.device, M, N, c.K, 4);
    expect(plan).toEqual({ slices: 4, kSlice: 40 });
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 71);
    const biasValues = randoms(N, 72);
    const bias = await fx.upload('bias', biasValues);
    const pre = await fx.empty('pre', storageBytes(M * N, 'f16'), 'activations');
    const actBuf = await fx.empty('act', storageBytes(M * N, 'bf16'), 'activations');
    const ws = await fx.empty('splitK', splitKWorkspaceBytes(plan, M, N));
    fx.submit((enc) =>
      recordMatmul(fx.device, enc, {
        M, N, K: c.K, a: aBuf, aStorage: c.aS, aTransposed: false, b: bBuf, bStorage: c.bS, bTransposed: true,
        out: pre, outStorage: 'f16', bias, epilogue: { kind: 'activation', fn: 'relu', act: actBuf, actStorage: 'bf16' }, splitK: 4, splitKWorkspace: ws,
      }),
    );
    const refPre = ref.map((v, i) => v + biasValues[i % N]!);
    const tolPre = (i: number) => F32_REL * (mag[i]! + Math.abs(biasValues[i % N]!)) + 1e-7;
    expectClose('pre', decodeStorage(await fx.read(pre), M * N, 'f16'), refPre, (i) => tolPre(i) + OUT_REL.f16 * Math.abs(refPre[i]!));
    const refAct = refPre.map((v) => act('relu', v));
    expectClose('act', decodeStorage(await fx.read(actBuf), M * N, 'bf16'), refAct, (i) => 1.2 * tolPre(i) + OUT_REL.bf16 * Math.abs(refAct[i]!) + 1e-7);
  });

  it('f16ᵀ·bf16ᵀ times gelu′(pre) into bf16, 5 slices', async () => {
    useTiles(FALLBACK_MATMUL_TILES);
    const c: MatmulCase = { M: 36, N: 40, K: 100, aT: true, bT: true, aS: 'f16', bS: 'bf16', outS: 'bf16' };
    const { M, N } = c;
    const plan = matmulSplitK(fx.device, M, N, c.K, 5);
    expect(plan).toEqual({ slices: 5, kSlice: 24 });
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 81);
    const preValues = roundToStorage(randoms(M * N, 82, -3, 3), 'f16');
    const pre = await fx.upload('pre', encodeStorage(preValues, 'f16'));
    const out = await fx.empty('dPre', storageBytes(M * N, 'bf16'), 'activation-grads');
    const ws = await fx.empty('splitK', splitKWorkspaceBytes(plan, M, N));
    fx.submit((enc) =>
      recordMatmul(fx.device, enc, {
        M, N, K: c.K, a: aBuf, aStorage: c.aS, aTransposed: true, b: bBuf, bStorage: c.bS, bTransposed: true,
        out, outStorage: 'bf16', epilogue: { kind: 'activation-grad', fn: 'gelu', pre, preStorage: 'f16' }, splitK: 5, splitKWorkspace: ws,
      }),
    );
    const want = ref.map((v, i) => v * actGrad('gelu', preValues[i]!));
    expectClose('dPre', decodeStorage(await fx.read(out), M * N, 'bf16'), want, (i) => 1.2 * F32_REL * mag[i]! + OUT_REL.bf16 * Math.abs(want[i]!) + 1e-6);
  });

  it("'auto' splits a few-tile output with a long K where the device needs more workgroups, and only with a workspace; 'off' does not", async () => {
    useTiles(FALLBACK_MATMUL_TILES);
    useTraits({ prefetch: false, fillWorkgroups: 64 });
    const c: MatmulCase = { M: 8, N: 8, K: 600, aT: true, bT: false, aS: 'f32', bS: 'f32', outS: 'f32' };
    // One 32×32 tile: 64 wanted, K allows floor(600 / 256) = 2 slices of 304 (a multiple of 8).
    const plan = matmulSplitK(fx.device, c.M, c.N, c.K);
    expect(plan).toEqual({ slices: 2, kSlice: 304 });
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 91);
    const tol = (i: number) => F32_REL * mag[i]! + 1e-7;
    const wsBytes = splitKWorkspaceBytes(plan, c.M, c.N);
    const ws = await fx.empty('splitK.auto', wsBytes);
    expectClose('auto', await runPlain(c, 'tiled', aBuf, bBuf, fx.device, undefined, { splitKWorkspace: ws }), ref, tol);
    expectClose('workspace slices', slicesSum(decodeStorage(await fx.read(ws), 2 * 64, 'f32'), 2, 64), ref, tol);
    const untouched = await fx.empty('splitK.off', wsBytes);
    expectClose('off', await runPlain(c, 'tiled', aBuf, bBuf, fx.device, undefined, { splitK: 'off', splitKWorkspace: untouched }), ref, tol);
    expectClose('no workspace', await runPlain(c, 'tiled', aBuf, bBuf), ref, tol);
    expect([...(await fx.read(untouched))].every((w) => w === 0)).toBe(true);
  });

  it('names what is missing: a forced split without a workspace, a short one, a bad slice count', async () => {
    const a = await fx.empty('a', 4 * 8 * 600);
    const out = await fx.empty('out', 4 * 64);
    const short = await fx.empty('short', 16);
    const enc = fx.device.createCommandEncoder({ label: 'test.unused' });
    const args = { M: 8, N: 8, K: 600, a, aStorage: 'f32', aTransposed: true, b: a, bStorage: 'f32', bTransposed: false, out, outStorage: 'f32' } as const;
    expect(() => recordMatmul(fx.device, enc, { ...args, splitK: 2 })).toThrow(/splitK 2 needs splitKWorkspace, an f32 buffer of 512 B/);
    expect(() => recordMatmul(fx.device, enc, { ...args, splitK: 2, splitKWorkspace: short })).toThrow(/splitKWorkspace buffer '[^']*short' has 16 B, needs 512 B/);
    expect(() => recordMatmul(fx.device, enc, { ...args, splitK: 0, splitKWorkspace: short })).toThrow(/splitK must be 'auto', 'off' or a positive integer/);
    enc.finish();
  });
});

describe('plain matmul', () => {
  it.each([
    [1, 1, 1],
    [37, 29, 13],
    [36, 40, 20],
  ] as const)('%i×%i×%i matches the CPU and the tiled kernel', async (M, N, K) => {
    useTiles(MATMUL_TILE_CANDIDATES[0]!);
    const c: MatmulCase = { M, N, K, aT: false, bT: false, aS: 'f32', bS: 'f32', outS: 'f32' };
    const { ref, mag, aBuf, bBuf } = await matmulOperands(fx, c, 53);
    const out = await fx.empty('out.plain', 4 * M * N, 'activations');
    fx.submit((enc) => recordPlainMatmul(fx.device, enc, { M, N, K, a: aBuf, b: bBuf, out }));
    const plain = decodeStorage(await fx.read(out), M * N, 'f32');
    const tol = (i: number) => F32_REL * mag[i]! + 1e-7;
    expectClose('plain', plain, ref, tol);
    expectClose('tiled vs plain', await runPlain(c, 'tiled', aBuf, bBuf), plain, (i) => 2 * tol(i));
  });

  it('refuses a short buffer and an out that is an operand', async () => {
    const b = await fx.empty('b', 16);
    const enc = fx.device.createCommandEncoder({ label: 'test.unused' });
    expect(() => recordPlainMatmul(fx.device, enc, { M: 2, N: 2, K: 3, a: b, b, out: b })).toThrow(/a buffer '[^']*b' has 16 B, needs 24 B/);
    expect(() => recordPlainMatmul(fx.device, enc, { M: 2, N: 2, K: 2, a: b, b, out: b })).toThrow(/distinct from a and b/);
    enc.finish();
  });

  it('bench: the tiled matmul against the plain one, alternated, with the median and range of the ratio', async () => {
    const c = await matmulAgainstPlain(fx.device, 32, 4);
    expect(c.rounds).toBe(4);
    for (const v of [c.tiledMs, c.plainMs, c.speedup.min]) expect(v).toBeGreaterThan(0);
    expect(c.speedup.min).toBeLessThanOrEqual(c.speedup.median);
    expect(c.speedup.median).toBeLessThanOrEqual(c.speedup.max);
    expect((await matmulAgainstPlain(fx.device, 16, 1)).rounds).toBe(3);
  });

  it('bench: split-K against unsplit on a weight gradient and the prefetch against none, alternated, at least 5 rounds', async () => {
    const s = await matmulSplitKComparison(fx.device, 32, 1);
    // 8×8×512: one tile where a GPU wants 128 workgroups, K long enough for 2 slices of 256.
    expect({ M: s.M, N: s.N, K: s.K, slices: s.slices, rounds: s.rounds }).toEqual({ M: 8, N: 8, K: 512, slices: 2, rounds: 5 });
    const p = await matmulPrefetchComparison(fx.device, 16, 5);
    for (const c of [s, p.f32, p.bf16]) {
      for (const v of [c.aMs, c.bMs, c.speedup.min]) expect(v).toBeGreaterThan(0);
      expect(c.speedup.min).toBeLessThanOrEqual(c.speedup.median);
      expect(c.speedup.median).toBeLessThanOrEqual(c.speedup.max);
    }
  });
});
