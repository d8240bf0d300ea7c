/**
 * The pure choices of the tiled matmul: when split-K splits and into what, and which tiles
 * the register prefetch fits.
 */
import { describe, expect, it } from 'vitest';
import { MATMUL_TILE_CANDIDATES, SPLIT_K_MAX_SLICES, SPLIT_K_MIN_SLICE, fallbackMatmulTraits, prefetchFits, splitKPlan, splitKWorkspaceBytes } from '../../src/engine/kernels/matmul.ts';

const tiles = { tileRows: 64, tileCols: 64, tk: 8 };

describe('splitKPlan', () => {
  it('splits a weight gradient (64×64 output, K = 4096) to fill the device, in slices of a multiple of tk', () => {
    // One tile, 128 wanted, K allows 16 slices of 256.
    expect(splitKPlan({ M: 64, N: 64, K: 4096, ...tiles, fillWorkgroups: 128 })).toEqual({ slices: 16, kSlice: 256 });
    // 4 tiles, 8 wanted per tile: 2 slices.
    expect(splitKPlan({ M: 128, N: 128, K: 4096, ...tiles, fillWorkgroups: 8 })).toEqual({ slices: 2, kSlice: 2048 });
    // K not a multiple of tk nor of the slice count: slices rounded up to tk, the last one shorter.
    const p = splitKPlan({ M: 64, N: 64, K: 1001, ...tiles, fillWorkgroups: 3 });
    expect(p).toEqual({ slices: 3, kSlice: 336 });
    expect((p.slices - 1) * p.kSlice).toBeLessThan(1001);
  });

  it('leaves alone a grid that fills the device, a short K, and caps the slices', () => {
    expect(splitKPlan({ M: 1024, N: 1024, K: 65536, ...tiles, fillWorkgroups: 128 }).slices).toBe(1);
    expect(splitKPlan({ M: 64, N: 64, K: 2 * SPLIT_K_MIN_SLICE - 1, ...tiles, fillWorkgroups: 128 })).toEqual({ slices: 1, kSlice: 2 * SPLIT_K_MIN_SLICE - 1 });
    expect(splitKPlan({ M: 8, N: 8, K: 1 << 20, ...tiles, fillWorkgroups: 1000 }).slices).toBe(SPLIT_K_MAX_SLICES);
    // A CPU adapter with 2 cores: 4 tiles of 32 already fill it.
    expect(splitKPlan({ M: 64, N: 64, K: 4096, tileRows: 32, tileCols: 32, tk: 8, fillWorkgroups: fallbackMatmulTraits(2).fillWorkgroups }).slices).toBe(1);
  });

  it('forces a slice count, fewer where K is too short for it, and refuses a bad one', () => {
    expect(splitKPlan({ M: 1024, N: 1024, K: 203, ...tiles, fillWorkgroups: 1, force: 3 })).toEqual({ slices: 3, kSlice: 72 });
    // 9 = 8 + 1: three slices of tk 8 cannot be made, two can.
    expect(splitKPlan({ M: 8, N: 8, K: 9, ...tiles, fillWorkgroups: 1, force: 3 })).toEqual({ slices: 2, kSlice: 8 });
    expect(splitKPlan({ M: 8, N: 8, K: 8, ...tiles, fillWorkgroups: 1, force: 4 })).toEqual({ slices: 1, kSlice: 8 });
    expect(() => splitKPlan({ M: 8, N: 8, K: 8, ...tiles, fillWorkgroups: 1, force: 1.5 })).toThrow(/splitK must be 'auto', 'off' or a positive integer, got 1.5/);
  });

  it('sizes the workspace as slices × M × N f32, none unsplit', () => {
    expect(splitKWorkspaceBytes({ slices: 16, kSlice: 256 }, 64, 64)).toBe(16 * 64 * 64 * 4);
    expect(splitKWorkspaceBytes({ slices: 1, kSlice: 4096 }, 64, 64)).toBe(0);
  });
});

describe('prefetchFits', () => {
  it('fits every candidate tile and refuses one whose slices need more than 4 registers per invocation', () => {
    for (const t of MATMUL_TILE_CANDIDATES) expect(prefetchFits(t), JSON.stringify(t)).toBe(true);
    // 128 rows × 32 k / 4 = 1024 slots over 64 invocations: 16 each.
    expect(prefetchFits({ tm: 16, tn: 4, wgx: 8, wgy: 8, tk: 32 })).toBe(false);
  });
});
