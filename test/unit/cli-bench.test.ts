/** `vramlab bench` without a GPU: its flags, its work list and FLOP counts, the nvidia-smi parse, the tiles cache, the table. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { optimizerLaunchFromEnv, parseBenchArgs, UsageError } from '../../src/cli/args.ts';
import { alternate, benchWorks, pairSpread, parseNvidiaSmiMiB, quantile, workFlops, type AbLine, type BenchLine, type Stepper } from '../../src/cli/bench.ts';
import { formatAb, formatBench } from '../../src/cli/format.ts';
import { benchUsage } from '../../src/cli/help.ts';
import { cachedTiles, readTilesCache, saveTiles, tilesCachePath } from '../../src/cli/tiles-cache.ts';
import type { AdapterSummary } from '../../src/protocol/engine-api.ts';
import { usageErrorOf } from '../helpers/usage.ts';

function usageError(argv: string[]): UsageError {
  return usageErrorOf(() => parseBenchArgs(argv), argv);
}

describe('parseBenchArgs', () => {
  it('has defaults: every kind, TF.js on, no tuning', () => {
    expect(parseBenchArgs([])).toEqual({ quick: false, tfjs: true, tune: false, ab: false, json: false, help: false });
  });

  it('reads every flag', () => {
    expect(parseBenchArgs(['--quick', '--only', 'mlp', '--iters', '5', '--no-tfjs', '--tune', '--variants', '--ab', '--json'])).toEqual({
      quick: true,
      only: 'mlp',
      iters: 5,
      tfjs: false,
      tune: true,
      variants: true,
      ab: true,
      json: true,
      help: false,
    });
  });

  it.each([
    [['--only', 'conv'], '--only', /one of matmul, mlp, gpt/],
    [['--iters', '0'], '--iters', /at least|≥ 1/],
    [['--iters', '1.5'], '--iters', /whole number/],
    [['--iters', '5000'], '--iters', /at most 1000/],
    [['--size', '3'], '--size', /unknown/],
  ])('%j is refused, naming %s', (argv, flag, pattern) => {
    const e = usageError(argv);
    expect(e.message).toContain(flag);
    expect(e.message).toMatch(pattern);
  });

  it('documents every flag in the help', () => {
    const help = benchUsage();
    for (const f of ['--quick', '--only', '--iters', '--no-tfjs', '--tune', '--variants', '--json']) expect(help).toContain(f);
  });
});

describe('the work', () => {
  it('is the speed targets\' shapes on a GPU and small ones with --quick, each kind present', () => {
    const full = benchWorks(false);
    expect(full.filter((w) => w.kind === 'matmul').map((w) => (w.kind === 'matmul' ? w.n : 0))).toEqual([1024, 2048, 4096]);
    expect(full.filter((w) => w.kind === 'mlp')).toEqual([
      { kind: 'mlp', id: 'mlp-d1024-h4096-b512', d: 1024, hidden: 4096, layers: 4, batch: 512 },
      { kind: 'mlp', id: 'mlp-d4096-h16384-b2048', d: 4096, hidden: 16384, layers: 4, batch: 2048 },
      { kind: 'mlp', id: 'mlp-d4096-h16384-b2048-amp-bf16', d: 4096, hidden: 16384, layers: 4, batch: 2048, precision: 'amp-bf16' },
    ]);
    for (const works of [full, benchWorks(true)]) expect(new Set(works.map((w) => w.kind))).toEqual(new Set(['matmul', 'mlp', 'gpt']));
    expect(new Set(benchWorks(true).map((w) => w.id)).size).toBe(benchWorks(true).length);
  });

  it('counts FLOPs: 2n³ per matmul, 12·B·d·h·L per mlp step, PaLM\'s 6NT + 12LdsT per gpt step', () => {
    expect(workFlops({ kind: 'matmul', id: 'm', n: 4096 })).toBe(2 * 4096 ** 3);
    // 4 blocks of d 1024 hidden 4096 batch 512: 103 GFLOP, so PyTorch's 3.65 ms is 28 TFLOP/s.
    expect(workFlops({ kind: 'mlp', id: 'm', d: 1024, hidden: 4096, layers: 4, batch: 512 })).toBe(12 * 512 * 1024 * 4096 * 4);
    const g = { kind: 'gpt' as const, id: 'g', vocab: 256, dModel: 64, heads: 4, layers: 2, seq: 64, batch: 4 };
    const params = 256 * 64 + 64 * 64 + 2 * (12 * 64 * 64 + 13 * 64) + 2 * 64;
    expect(workFlops(g)).toBe(6 * params * 256 + 12 * 2 * 64 * 64 * 256);
  });
});

describe('nvidia-smi', () => {
  it('reads memory.used in MiB as bytes', () => {
    expect(parseNvidiaSmiMiB('1234\n')).toBe(1234 * 2 ** 20);
    expect(parseNvidiaSmiMiB(' 80\n512\n')).toBe(80 * 2 ** 20);
  });
  it('refuses anything else', () => {
    expect(() => parseNvidiaSmiMiB('[N/A]')).toThrow(/not a MiB count/);
    expect(() => parseNvidiaSmiMiB('')).toThrow(/not a MiB count/);
  });
});

describe('tiles cache', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'vramlab-tiles-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tiles = { tm: 8, tn: 8, wgx: 16, wgy: 16, tk: 8 };

  it('lives in VRAMLAB_CACHE_DIR, else XDG_CACHE_HOME/vramlab', () => {
    expect(tilesCachePath({ VRAMLAB_CACHE_DIR: '/c' })).toBe('/c/matmul-tiles.json');
    expect(tilesCachePath({ XDG_CACHE_HOME: '/x' })).toBe('/x/vramlab/matmul-tiles.json');
  });

  it('keeps one entry per adapter and reads it back', () => {
    const path = join(tmp(), 'sub', 'matmul-tiles.json');
    expect(cachedTiles(path, 'nvidia|hopper||H100')).toEqual({});
    saveTiles(path, 'nvidia|hopper||H100', { tiles, n: 1024, gflops: 30000, tuned: '2026-11-22T00:00:00.000Z' });
    saveTiles(path, 'google|swiftshader||', { tiles: { ...tiles, tm: 4, tn: 4 }, n: 128, gflops: 0.3, tuned: '2026-11-22T00:00:00.000Z' });
    expect(cachedTiles(path, 'nvidia|hopper||H100')).toEqual({ tiles });
    expect(cachedTiles(path, 'google|swiftshader||').tiles?.tm).toBe(4);
    expect(Object.keys(readTilesCache(path).file.adapters)).toHaveLength(2);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['a wrong version', JSON.stringify({ version: 2, adapters: {} }), /version/],
    ['a bad tile', JSON.stringify({ version: 1, adapters: { a: { tiles: { ...tiles, tm: -1 }, n: 1, gflops: 1, tuned: 'x' } } }), /adapters\.a\.tiles\.tm/],
  ])('ignores a file with %s, saying why and what to do', (_, text, pattern) => {
    const path = join(tmp(), 'matmul-tiles.json');
    writeFileSync(path, text);
    const r = cachedTiles(path, 'a');
    expect(r.tiles).toBeUndefined();
    expect(r.problem).toMatch(pattern);
    expect(r.problem).toMatch(/ignored \(delete it or run vramlab bench --tune\)/);
    // Saving over a bad file replaces it with a good one.
    saveTiles(path, 'a', { tiles, n: 128, gflops: 1, tuned: 't' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, adapters: { a: { tiles, n: 128, gflops: 1, tuned: 't' } } });
  });
});

describe('the table', () => {
  const adapter: AdapterSummary = { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', features: ['subgroups', 'timestamp-query'], limits: {}, isFallbackAdapter: true };
  const base = { adapter: { name: 'SwiftShader', features: adapter.features, fallback: true, tiles: 't' }, timing: 'wall-clock' as const, precision: 'fp32' as const };
  const lines: BenchLine[] = [
    {
      ...base,
      work: 'matmul-256',
      kind: 'matmul',
      shape: { n: 256 },
      flops: 2 * 256 ** 3,
      vramlab: { ms: 100, gflops: 0.3355, iters: 3, peakBytes: 786432, allocatedBytes: 786432, allocatedOverPeak: 1 },
      tfjs: { ms: 80, gflops: 0.419, iters: 3, peakBytes: 786560, allocatedBytes: 786560, allocatedOverPeak: 1 },
      vramlabOverTfjs: 0.8,
      pairRatio: { of: 'tfjs ms / vramlab ms, per alternated pair', pairs: 3, median: 0.79, q1: 0.75, q3: 0.85, min: 0.7, max: 0.9 },
      driver: { driverBytes: 2 * 2 ** 20, ledgerBytes: 786432, ratio: 2.667 },
    },
    { ...base, work: 'gpt-nano', kind: 'gpt', shape: {}, flops: 1, vramlab: { error: 'OutOfMemory: no' }, tfjs: null, vramlabOverTfjs: null, pairRatio: null },
  ];

  it('shows both columns, the ratio, peak and allocated, the driver check and a failure in its cell', () => {
    const t = formatBench(lines, adapter, '64×64');
    expect(t).toContain('SwiftShader');
    expect(t).toContain('Features subgroups, timestamp-query');
    // The per-pair ratio: median [quartiles] (range), not the ratio of the medians.
    expect(t).toMatch(/matmul-256\s+100 ms · 0\.336 GFLOP\/s\s+80\.0 ms · 0\.419 GFLOP\/s\s+0\.79× \[0\.75–0\.85\] \(0\.70–0\.90\)\s+768\.00 KiB \/ 768\.00 KiB \(1\.00×\)/);
    expect(t).toContain('median [q1–q3] (min–max) over 3 pairs');
    expect(t).toMatch(/gpt-nano\s+failed: OutOfMemory: no/);
    expect(t).toContain('nvidia-smi +2.00 MiB for 768.00 KiB in the ledger (2.667×)');
  });

  it('lists the split-K and prefetch variants of a matmul line with their ratio and range, and a failed one', () => {
    const cmp = (aMs: number, bMs: number) => ({ rounds: 5, aMs, bMs, speedup: { median: aMs / bMs, min: 0.5, max: 2 } });
    const matmul = lines[0]!;
    const withVariants: BenchLine = { ...matmul, splitK: { M: 64, N: 64, K: 4096, slices: 16, autoSlices: 1, ...cmp(136, 196) }, prefetch: { f32: cmp(144, 290), bf16: cmp(164, 387) } };
    const t = formatBench([withVariants, { ...matmul, work: 'matmul-128', shape: { n: 128 }, prefetch: { error: 'GPUValidationError: no' } }], adapter, 't');
    expect(t).toContain("64×64×4096 Xᵀ·dY: unsplit 136 ms, split 16 196 ms: 0.69× (0.50–2.00× over 5 rounds) (this adapter's choice: 1)");
    expect(t).toContain('256³ f32: no prefetch 144 ms, prefetch 290 ms: 0.50× (0.50–2.00× over 5 rounds)');
    expect(t).toContain('256³ bf16: no prefetch 164 ms, prefetch 387 ms: 0.42×');
    expect(t).toContain('matmul-128 prefetch: failed: GPUValidationError: no');
  });
});

describe('alternation', () => {
  /**
   * Two fake engines on a fake clock: each step advances the clock by the side's next duration
   * and logs its name, so the order and every timed figure are known.
   */
  function fakes(aTimes: number[], bTimes: number[], failAt?: { side: 'a' | 'b'; step: number }) {
    let clock = 0;
    const log: string[] = [];
    const side = (name: 'a' | 'b', times: number[]): Stepper => {
      let n = 0;
      return {
        step: async () => {
          const i = n++;
          log.push(name);
          if (failAt?.side === name && failAt.step === i) throw new Error(`${name} failed at step ${i}`);
          clock += times[i]!;
        },
        restart: () => log.push(`restart ${name}`),
      };
    };
    return { a: side('a', aTimes), b: side('b', bTimes), log, now: () => clock };
  }

  it('runs a b, b a, a b…: warm-up pairs untimed, then each side\'s timed iterations in order', async () => {
    const f = fakes([100, 10, 20, 30, 40], [900, 15, 20, 90, 20]);
    const [a, b] = await alternate(f.a, f.b, { warmup: 1, iters: 4 }, f.now);
    expect(f.log).toEqual(['a', 'b', 'restart a', 'restart b', 'b', 'a', 'a', 'b', 'b', 'a', 'a', 'b']);
    expect(a).toEqual({ ms: [10, 20, 30, 40] });
    expect(b).toEqual({ ms: [15, 20, 90, 20] });
  });

  it('goes on with one side when the other is absent or throws, keeping the error', async () => {
    const f = fakes([1, 2, 3], [5, 6, 7], { side: 'b', step: 1 });
    const [a, b] = await alternate(f.a, f.b, { warmup: 0, iters: 3 }, f.now);
    expect(f.log).toEqual(['restart a', 'restart b', 'a', 'b', 'b', 'a', 'a']);
    expect(a.ms).toEqual([1, 2, 3]);
    expect(b.ms).toEqual([5]);
    expect(String(b.error)).toBe('Error: b failed at step 1');
    const g = fakes([4, 5], []);
    const [alone, none] = await alternate(g.a, null, { warmup: 1, iters: 1 }, g.now);
    expect(alone.ms).toEqual([5]);
    expect(none).toEqual({ ms: [] });
  });

  it('the per-pair ratio: median, quartiles and range of num[i] ÷ den[i]', () => {
    // TF.js over vramlab for the pairs above: 1.5, 1, 3, 0.5.
    expect(pairSpread([15, 20, 90, 20], [10, 20, 30, 40])).toEqual({ median: 1.25, q1: 0.875, q3: 1.875, min: 0.5, max: 3 });
    // Not the ratio of the medians (27.5 ÷ 25 = 1.1): a slow moment hits a pair, not a column.
    expect(pairSpread([3], [2])).toEqual({ median: 1.5, q1: 1.5, q3: 1.5, min: 1.5, max: 1.5 });
    expect(() => pairSpread([1, 2], [1])).toThrow(/2 numerators for 1 denominators/);
  });
});

describe('bench --ab', () => {
  it('quantiles interpolate between order statistics', () => {
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(quantile([3, 1, 2, 4], 0.25)).toBe(1.75);
    expect(quantile([5], 0.75)).toBe(5);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('VRAMLAB_OPTIMIZER: fused by default, per-tensor when asked, anything else a one-line usage error', () => {
    expect(optimizerLaunchFromEnv({})).toBe('fused');
    expect(optimizerLaunchFromEnv({ VRAMLAB_OPTIMIZER: '' })).toBe('fused');
    expect(optimizerLaunchFromEnv({ VRAMLAB_OPTIMIZER: 'per-tensor' })).toBe('per-tensor');
    expect(() => optimizerLaunchFromEnv({ VRAMLAB_OPTIMIZER: 'foreach\n' })).toThrow(/^VRAMLAB_OPTIMIZER must be one of fused, per-tensor, got 'foreach\?'; unset it/);
  });

  it('prints both launches, the ratio with its spread, the counts and the load', () => {
    const counts = (dispatches: number) => ({ dispatches, computePasses: dispatches - 1, clears: 0, readbacks: 1, submits: 3 });
    const line: AbLine = {
      work: 'mlp-4-blocks', kind: 'mlp', shape: { d: 64 }, launches: { a: 'per-tensor', b: 'fused' }, iters: 10,
      cpuMsPerStep: { a: 40, b: 30 }, wallMsPerStep: { a: 50, b: 35 },
      ratio: { of: 'cpu b / cpu a, per pair of steps', median: 0.75, q1: 0.7, q3: 0.8, min: 0.6, max: 0.9 },
      counts: { a: counts(49), b: counts(34) }, loss: { a: 0.5, b: 0.5 }, adapter: 'SwiftShader', loadAverage: [1.5, 2, 2.5], cpus: 2,
    };
    const text = formatAb([line]);
    expect(text).toContain('SwiftShader, 2 CPUs, load average 1.50 2.00 2.50');
    expect(text).toMatch(/mlp-4-blocks +40\.0 ms +30\.0 ms +0\.750 +0\.700–0\.800 +0\.600–0\.900 .* 49 → 34/);
  });
});
