/**
 * `vramlab run` as a user runs it: the real bin, which sets the GPU environment (SwiftShader
 * when there is no driver), loads the WGSL through its `?raw` hook and trains on Dawn.
 */
import { describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { schemaProblems } from '../helpers/schemas.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';
import { PHASE_NAMES, type RunReport } from '../../src/protocol/run.ts';

const TIMEOUT = 120_000;


function vramlab(args: string[]): Promise<CliResult> {
  return runCli(args, { timeoutMs: TIMEOUT - 5_000 });
}

const isByteCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;

/** Status 2, nothing on stdout, one line on stderr containing every `parts`, no stack trace. */
function expectOneLineRefusal(r: CliResult, ...parts: (string | RegExp)[]): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toMatch(p);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const SMALL = ['--d', '16', '--hidden', '32', '--layers', '2', '--batch', '8'];

// One file at a time and one run at a time: SwiftShader shares the machine's cores.
describe('vramlab run (spawned)', () => {
  it.each([
    ['fp32', 'adam', 'none', []],
    ['amp-bf16', 'adamw', 'sqrt', ['--wall-clock']],
    ['amp-fp16', 'sgd-momentum', 'full', ['--activation', 'relu']],
  ])('--json --precision %s --optimizer %s --checkpoint %s prints one report that matches the estimate', { timeout: TIMEOUT }, async (precision, optimizer, checkpoint, extra) => {
    const steps = 3;
    const r = await vramlab(['run', ...SMALL, '--precision', precision, '--optimizer', optimizer, '--checkpoint', checkpoint, '--steps', String(steps), '--json', ...extra]);
    expect(r.status, r.stderr).toBe(0);
    // stderr is not a terminal here: --json keeps both streams free of progress.
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(schemaProblems('run', report)).toEqual([]);

    expect(report.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(report.config).toMatchObject({ d: 16, hidden: 32, layers: 2, batch: 8, precision, optimizer, checkpoint, steps });
    const a = report.actual;
    for (const k of ['peakBytes', 'allocatedPeakBytes', 'physicalPeakBytes', 'stagingBytes', 'liveAfterDisposeBytes'] as const) {
      expect(isByteCount(a[k]), `${k} = ${a[k]}`).toBe(true);
    }
    for (const c of PLAN_CATEGORIES) expect(isByteCount(a.bytes[c]), c).toBe(true);
    expect(a.peakBytes).toBeGreaterThan(0);
    expect(a.allocatedPeakBytes).toBeGreaterThanOrEqual(a.peakBytes);
    expect(a.liveAfterDisposeBytes).toBe(0);
    expect(report.estimate.peak.bytes).toBe(a.peakBytes);

    expect(['timestamp-query', 'wall-clock']).toContain(report.timing.source);
    if (extra.includes('--wall-clock')) expect(report.timing.source).toBe('wall-clock');
    expect(report.timing.stepMs).toBeGreaterThan(0);
    // Recording is a part of the step: with timestamp-query all of it before one submit.
    expect(report.timing.recordMs).toBeGreaterThan(0);
    expect(report.timing.recordMs).toBeLessThanOrEqual(report.timing.stepMs);
    for (const p of PHASE_NAMES) expect(report.timing.phasesMs[p], p).toBeGreaterThanOrEqual(0);

    expect(report.loss).toHaveLength(steps);
    for (const l of report.loss) expect(Number.isFinite(l), String(l)).toBe(true);
    expect(Number.isInteger(report.skippedSteps)).toBe(true);
  });

  it('without --json prints the summary, and a line per step on stderr', { timeout: TIMEOUT }, async () => {
    const r = await vramlab(['run', ...SMALL, '--steps', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^step 1\/2 {2}loss \d/), expect.stringMatching(/^step 2\/2 {2}loss \d/)]);
    expect(r.stdout).toMatch(/^Adapter \S/);
    expect(r.stdout).toMatch(/^ {2}peak +\S.*(exact|[+−])/m);
    expect(r.stdout).toMatch(/^Live after dispose +0 B/m);
    expect(r.stdout).toMatch(/by (GPU timestamp queries|the wall clock)/);
    expect(r.stdout).toMatch(/^Loss +\S+ → \S+ over 2 steps/m);
    expect(r.stdout).toMatch(/^Skipped 0 steps/m);
  });

  it('refuses a model over the device limits with one line naming the tensor, its size and the limit', { timeout: TIMEOUT }, async () => {
    for (const json of [[], ['--json']]) {
      const r = await vramlab(['run', '--d', '100000', '--hidden', '100000', '--layers', '1', '--batch', '1', '--steps', '1', ...json]);
      expectOneLineRefusal(r, /^vramlab run: /, /'[\w.]+'/, /40000000000 B/, /max(StorageBufferBinding|Buffer)Size/);
    }
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--optimizer', 'lion'], '--optimizer'],
    [['--d', '1.5'], '--d'],
    [['--lr', '-1'], '--lr'],
    [['--steps', '0'], '--steps'],
    [['--model', 'gpt2-small'], '--model'],
    [['--seq', '128'], '--seq'],
  ])('a bad flag %j exits 2 with one line naming %s', { timeout: TIMEOUT }, async (args, flag) => {
    expectOneLineRefusal(await vramlab(['run', ...args]), flag);
  });
});

describe('vramlab run --model cnn-* (spawned)', () => {
  it('--model cnn-cifar --blocks 1 --width 4 --json prints one CNN report whose estimate is the ledger, per category and at the peak', { timeout: TIMEOUT }, async () => {
    const r = await vramlab(['run', '--model', 'cnn-cifar', '--blocks', '1', '--width', '4', '--batch', '2', '--steps', '2', '--checkpoint', 'full', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Omit<RunReport, 'config'> & { config: { model: string; blocks: number; width: number } };
    expect(report.config).toMatchObject({ model: 'cnn-cifar', blocks: 1, width: 4, batch: 2, checkpoint: 'full', steps: 2 });
    expect(report.estimate.model.name).toBe('ResNet-8 (CIFAR-10, width 4)');
    for (const c of PLAN_CATEGORIES) expect(report.actual.bytes[c], c).toBe(report.estimate.bytes[c]);
    expect(report.actual.peakBytes).toBe(report.estimate.peak.bytes);
    expect(report.loss).toHaveLength(2);
    expect(report.loss.every(Number.isFinite)).toBe(true);
    expect(report.timeline.some((p) => p.label === 'recompute layer2.0')).toBe(true);
  });

  it('--model cnn-mnist --blocks 2 is refused in one line: LeNet has a fixed shape', { timeout: TIMEOUT }, async () => {
    expectOneLineRefusal(await vramlab(['run', '--model', 'cnn-mnist', '--blocks', '2']), /--blocks/, /cnn-mnist has a fixed shape/);
  });
});
