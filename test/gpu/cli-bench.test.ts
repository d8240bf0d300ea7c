/**
 * `vramlab bench` as a user runs it, on SwiftShader: both engines on the quick work, one JSON
 * line each with both columns, their ratio and the per-pair ratio of the alternated iterations; tuning writes the per-adapter cache and a later
 * run uses it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { schemaProblems } from '../helpers/schemas.ts';
import { benchWorks, type BenchLine, type EngineResult } from '../../src/cli/bench.ts';

const TIMEOUT = 300_000;
const cacheDir = mkdtempSync(join(tmpdir(), 'vramlab-bench-'));
const env = { VRAMLAB_CACHE_DIR: cacheDir };
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const lines = (stdout: string) => stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as BenchLine);

function expectResult(r: BenchLine['vramlab'] | null, what: string): asserts r is EngineResult {
  expect(r, what).not.toBeNull();
  expect(r && 'error' in r ? r.error : null, what).toBeNull();
  const e = r as EngineResult;
  expect(e.ms, what).toBeGreaterThan(0);
  expect(e.gflops, what).toBeGreaterThan(0);
  expect(e.peakBytes, what).toBeGreaterThan(0);
  expect(e.allocatedBytes, what).toBeGreaterThanOrEqual(e.peakBytes);
  expect(e.allocatedOverPeak, what).toBeCloseTo(e.allocatedBytes / e.peakBytes, 9);
}

describe('vramlab bench (spawned)', () => {
  it('--quick --json: every work item on vramlab and TF.js, with the ratio, the memory and the adapter', { timeout: TIMEOUT }, async () => {
    const r = await runCli(['bench', '--quick', '--json', '--iters', '1'], { timeoutMs: TIMEOUT - 10_000, env });
    expect(r.status, r.stderr).toBe(0);
    const out = lines(r.stdout);
    expect(out.map((l) => l.work)).toEqual(benchWorks(true).map((w) => w.id));
    for (const l of out) expect(schemaProblems('bench', l)).toEqual([]);
    // The matmul variants only with --variants on the quick shapes.
    for (const l of out) expect([l.splitK, l.prefetch]).toEqual([undefined, undefined]);
    expect(out.filter((l) => l.precision !== 'fp32').map((l) => l.work)).toEqual(['mlp-d128-h512-b128-amp-bf16']);
    for (const l of out) {
      expectResult(l.vramlab, `${l.work} vramlab`);
      if (l.precision !== 'fp32') {
        // TF.js trains in f32 only: an amp line has vramlab's column alone.
        expect(l.tfjs).toBeNull();
        expect(l.vramlabOverTfjs).toBeNull();
        expect(l.pairRatio).toBeNull();
        expect(Number.isFinite(l.vramlab.loss)).toBe(true);
        continue;
      }
      expectResult(l.tfjs, `${l.work} tfjs`);
      expect(l.vramlabOverTfjs).toBeCloseTo(l.tfjs.ms / l.vramlab.ms, 9);
      // Alternated: one timed pair each (--iters 1), whose ratio is the columns' ratio.
      expect([l.vramlab.iters, l.tfjs.iters]).toEqual([1, 1]);
      const p = l.pairRatio!;
      expect(p).toMatchObject({ of: 'tfjs ms / vramlab ms, per alternated pair', pairs: 1 });
      for (const v of [p.min, p.q1, p.q3, p.max]) expect(v).toBe(p.median);
      expect(p.median).toBeCloseTo(l.tfjs.ms / l.vramlab.ms, 9);
      expect(l.adapter.name).toMatch(/swiftshader/i);
      expect(l.adapter.features).toContain('timestamp-query');
      expect(l.vramlab.gflops).toBeCloseTo(l.flops / (l.vramlab.ms * 1e6), 6);
      if (l.kind === 'matmul') {
        // A, B and out, f32: what the ledger held, nothing more.
        expect(l.vramlab.peakBytes).toBe(3 * 4 * l.shape.n! ** 2);
        expect(l.vramlab.allocatedBytes).toBe(l.vramlab.peakBytes);
        // Against the plain kernel: at least 3 alternated rounds, whatever --iters says.
        const plain = l.againstPlain;
        expect(plain && 'rounds' in plain ? plain.rounds : plain).toBe(3);
      } else {
        expect(Number.isFinite(l.vramlab.loss)).toBe(true);
        expect(Number.isFinite(l.tfjs.loss)).toBe(true);
        expect(l.vramlab.recordMs).toBeGreaterThan(0);
        expect(l.vramlab.recordMs).toBeLessThanOrEqual(l.vramlab.ms);
      }
    }
    // The reported figures, for the record (the test's own output).
    for (const l of out) {
      const v = l.vramlab as EngineResult;
      const t = l.tfjs as EngineResult | null;
      const tf = t ? `, TF.js ${t.ms.toFixed(1)} ms (${t.allocatedOverPeak.toFixed(2)}×), TF.js ÷ vramlab per pair ${l.pairRatio!.median.toFixed(2)}×` : '';
      console.log(`${l.work}: vramlab ${v.ms.toFixed(1)} ms (${v.allocatedOverPeak.toFixed(2)}× allocated/peak)${tf}`);
    }
  });

  it('--tune times the tile sizes, saves the choice for this adapter, and a later bench uses it', { timeout: TIMEOUT }, async () => {
    const tuned = await runCli(['bench', '--tune', '--only', 'matmul', '--no-tfjs', '--iters', '1'], { timeoutMs: TIMEOUT - 10_000, env });
    expect(tuned.status, tuned.stderr).toBe(0);
    expect(tuned.stderr).toMatch(/bench: tiles 32×32, 4×4 per invocation, tk 8: [\d.]+ ms at 128³/);
    expect(tuned.stdout).toMatch(/Matmul tiles .* \(tuned at 128³, saved to /);
    const file = JSON.parse(readFileSync(join(cacheDir, 'matmul-tiles.json'), 'utf8')) as { adapters: Record<string, { tiles: object; n: number }> };
    const entries = Object.entries(file.adapters);
    expect(entries).toHaveLength(1);
    expect(entries[0]![0]).toMatch(/swiftshader/i);
    expect(entries[0]![1].n).toBe(128);

    const again = await runCli(['bench', '--only', 'matmul', '--no-tfjs', '--iters', '1', '--variants', '--json'], { timeoutMs: TIMEOUT - 10_000, env });
    expect(again.status, again.stderr).toBe(0);
    const out = lines(again.stdout);
    expect(out).toHaveLength(3);
    // --variants: split-K and the prefetch timed on the largest line (256³ here), and only there.
    expect(out.map((l) => [l.work, l.splitK !== undefined, l.prefetch !== undefined])).toEqual([
      ['matmul-64', false, false],
      ['matmul-128', false, false],
      ['matmul-256', true, true],
    ]);
    const v = out[2]!;
    expect(v.splitK && !('error' in v.splitK) && v.splitK.K).toBe(4096);
    expect(v.prefetch && !('error' in v.prefetch) && v.prefetch.bf16.rounds).toBeGreaterThanOrEqual(5);
    for (const l of out) {
      expect(l.adapter.tiles).toMatch(/cached in /);
      expect(l.tfjs).toBeNull();
      expect(l.vramlabOverTfjs).toBeNull();
      expect(l.pairRatio).toBeNull();
    }
  });

  it('vramlab run uses the cached tiles, and warns once about a malformed cache file but still runs', { timeout: TIMEOUT }, async () => {
    const small = ['run', '--d', '16', '--hidden', '32', '--layers', '1', '--batch', '4', '--steps', '1', '--json'];
    const bad = mkdtempSync(join(tmpdir(), 'vramlab-badcache-'));
    try {
      writeFileSync(join(bad, 'matmul-tiles.json'), '{"version": 1, "adapters": {"x": {"tiles": "big"}}}');
      const r = await runCli(small, { timeoutMs: TIMEOUT - 10_000, env: { VRAMLAB_CACHE_DIR: bad } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^vramlab: .*matmul-tiles\.json: adapters\.x\.tiles: .*ignored \(delete it or run vramlab bench --tune\)$/)]);
      expect(JSON.parse(r.stdout).actual.liveAfterDisposeBytes).toBe(0);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('refuses a bad flag with one line and status 2', { timeout: TIMEOUT }, async () => {
    const r = await runCli(['bench', '--only', 'conv'], { timeoutMs: 60_000, env });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual(["vramlab bench: --only must be one of matmul, mlp, gpt; got 'conv'"]);
  });
});
