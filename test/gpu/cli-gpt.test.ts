/**
 * `vramlab run --model gpt` and `--sweep` as a user runs them: the real bin on Dawn (SwiftShader
 * without a GPU driver). Tiny shapes, few steps: SwiftShader takes tens of ms per step here.
 */
import { describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { schemaProblems } from '../helpers/schemas.ts';
import type { SweepLine } from '../../src/cli/format.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';
import { PHASE_NAMES, type GptRunReport } from '../../src/protocol/run.ts';

const TIMEOUT = 60_000;

function vramlab(args: string[]): Promise<CliResult> {
  return runCli(['run', ...args], { timeoutMs: TIMEOUT - 5_000 });
}

const isByteCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;

/** Status 2, nothing on stdout, one line on stderr naming `flag`, no stack trace. */
function expectOneLineRefusal(r: CliResult, flag: string): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^vramlab run: /);
  expect(lines[0]).toContain(flag);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const TINY = ['--model', 'gpt', '--vocab', '32', '--d-model', '16', '--heads', '2', '--layers', '1', '--batch', '2', '--steps', '2'];

describe('vramlab run --model gpt (spawned)', () => {
  it('--json prints one GptRunReport whose measured peak equals the estimate', { timeout: TIMEOUT }, async () => {
    const r = await vramlab([...TINY, '--seq', '8', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const report = JSON.parse(r.stdout) as GptRunReport;
    expect(schemaProblems('run', report)).toEqual([]);

    expect(report.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(report.config).toEqual({
      model: 'gpt', vocab: 32, dModel: 16, heads: 2, layers: 1, seq: 8, batch: 2, attention: 'fused',
      precision: 'fp32', optimizer: 'adam', checkpoint: 'none', steps: 2, seed: 1,
    });
    const a = report.actual;
    for (const k of ['peakBytes', 'allocatedPeakBytes', 'physicalPeakBytes', 'stagingBytes', 'liveAfterDisposeBytes'] as const) {
      expect(isByteCount(a[k]), `${k} = ${a[k]}`).toBe(true);
    }
    for (const c of PLAN_CATEGORIES) expect(isByteCount(a.bytes[c]), c).toBe(true);
    expect(a.peakBytes).toBeGreaterThan(0);
    expect(a.allocatedPeakBytes).toBeGreaterThanOrEqual(a.peakBytes);
    expect(a.liveAfterDisposeBytes).toBe(0);
    expect(report.estimate.peak.bytes).toBe(a.peakBytes);
    expect(a.bytes).toEqual(report.estimate.bytes);

    expect(['timestamp-query', 'wall-clock']).toContain(report.timing.source);
    expect(report.timing.stepMs).toBeGreaterThan(0);
    for (const p of PHASE_NAMES) expect(report.timing.phasesMs[p], p).toBeGreaterThanOrEqual(0);
    expect(report.loss).toHaveLength(2);
    for (const l of report.loss) expect(Number.isFinite(l), String(l)).toBe(true);
  });

  it('--sweep seq=8,16 --attention eager --json: a line per point, the measured activations grow and equal the estimate', { timeout: TIMEOUT }, async () => {
    const r = await vramlab([...TINY, '--attention', 'eager', '--sweep', 'seq=8,16', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as SweepLine);
    expect(lines.map((l) => l.point)).toEqual([{ seq: 8 }, { seq: 16 }]);
    for (const l of lines) expect(schemaProblems('run-sweep', l)).toEqual([]);
    const ok = lines.map((l) => {
      if ('error' in l) throw new Error(`point ${JSON.stringify(l.point)} failed: ${l.error.message}`);
      return l;
    });
    for (const l of ok) {
      expect(l.actual.bytes).toEqual(l.estimate.bytes);
      expect(l.actual.peakBytes).toBe(l.estimate.peakBytes);
      expect(l.actual.liveAfterDisposeBytes).toBe(0);
      expect(l.timing.stepMs).toBeGreaterThan(0);
      expect(l.loss).toHaveLength(2);
    }
    const [at8, at16] = ok.map((l) => l.actual.bytes.activations) as [number, number];
    // Doubling seq doubles the linear terms; the b·heads·seq² probabilities make it more than that.
    expect(at16).toBeGreaterThan(2 * at8);
  });

  it('without --json a sweep prints its table, the refused point on its own row, and exits 2', { timeout: TIMEOUT }, async () => {
    // seq 65536 with eager attention needs a 64 GiB probabilities buffer: over any device's limit.
    // TINY's steps, lowered: a flag may be given once.
    const r = await vramlab([...TINY.slice(0, -2), '--steps', '1', '--attention', 'eager', '--sweep', 'seq=8,65536']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^Model {3}gpt vocab 32, d-model 16, 2 heads, 1 layer, seq \{8, 65536\}, attention eager$/m);
    expect(r.stdout).toMatch(/^ {2}seq +estimated activations +measured activations +estimated peak +measured peak +step ms$/m);
    expect(r.stdout).toMatch(/^ {2}8 +(\S+ K?i?B +){4}\S+$/m);
    expect(r.stdout).toMatch(/^ {2}65536 +cannot run: .*'h0\.attn\.probs'.*max(StorageBufferBinding|Buffer)Size/m);
    expect(r.stderr).toMatch(/^seq 8 \(point 1\/2\)\nstep 1\/1 {2}loss \d/);
  });

  it.each([
    [['--model', 'gpt', '--d-model', '16', '--heads', '3'], '--heads'],
    [['--d', '8', '--model', 'gpt'], '--d'],
    [['--model', 'gpt', '--sweep', 'foo=1,2'], '--sweep'],
    [['--model', 'mlp', '--sweep', 'seq=8,16'], '--sweep'],
    [['--model', 'gpt', '--attention', 'flash'], '--attention'],
  ])('a bad flag %j exits 2 with one line naming %s', { timeout: TIMEOUT }, async (args, flag) => {
    expectOneLineRefusal(await vramlab(args), flag);
  });
});
