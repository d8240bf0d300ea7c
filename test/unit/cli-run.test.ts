/** `vramlab run` without a GPU: flags → RunConfig, errors → the flag, the report's text. */
import { describe, expect, it } from 'vitest';
import { parseRunArgs, RUN_FLAGS, flagForField, UsageError } from '../../src/cli/args.ts';
import { formatProgress, formatRunReport } from '../../src/cli/format.ts';
import { runUsage } from '../../src/cli/help.ts';
import { main, type Io } from '../../src/cli/main.ts';
import { RunConfigSchema, DEFAULT_RUN, type RunReport } from '../../src/protocol/run.ts';
import { zeroCategories } from '../../src/protocol/plan.ts';
import { estimate } from '../../src/estimate/index.ts';
import { planConfigOf } from '../../src/protocol/run.ts';

function usage(argv: string[]): UsageError {
  try {
    parseRunArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`no UsageError for ${argv.join(' ')}`);
}

describe('parseRunArgs', () => {
  it('starts from DEFAULT_RUN', () => {
    expect(parseRunArgs([])).toEqual({ config: DEFAULT_RUN, json: false, help: false, wallClock: false });
  });

  it('sets every field from its flag', () => {
    const a = parseRunArgs([
      '--model', 'mlp', '--d', '8', '--hidden', '24', '--layers', '3', '--batch', '5', '--activation', 'relu',
      '--precision', 'amp-bf16', '--optimizer', 'sgd-momentum', '--checkpoint', 'sqrt', '--steps', '7', '--seed', '0',
      '--lr', '1e-2', '--json', '--wall-clock',
    ]);
    expect(a).toEqual({
      config: { model: 'mlp', d: 8, hidden: 24, layers: 3, batch: 5, activation: 'relu', precision: 'amp-bf16', optimizer: 'sgd-momentum', checkpoint: 'sqrt', steps: 7, seed: 0, lr: 0.01 },
      json: true,
      help: false,
      wallClock: true,
    });
  });

  it('maps every schema field to a flag, and every field flag to a schema field', () => {
    for (const field of Object.keys(RunConfigSchema.shape)) expect(flagForField(field, RUN_FLAGS), field).toBe(`--${field}`);
    for (const f of RUN_FLAGS) if (f.field) expect(Object.keys(RunConfigSchema.shape)).toContain(f.field);
  });

  it.each([
    [['--bogus'], /^unknown flag --bogus; see vramlab run --help$/],
    [['extra'], /vramlab run takes only flags/],
    [['--d'], /^--d needs a value/],
    [['--json=1'], /^--json is a switch/],
    [['--d', '-3'], /^--d must be a whole number ≥ 1, got '-3'$/],
    [['--hidden', '0x10'], /^--hidden must be a whole number/],
    [['--layers', '99999'], /^--layers 99999: layers must be at most \d+$/],
    [['--steps', '1000000'], /^--steps 1000000: steps must be at most 100000$/],
    [['--seed', '4294967296'], /^--seed 4294967296: seed must be at most/],
    [['--lr', 'fast'], /^--lr must be a number/],
    [['--lr', '0'], /^--lr 0: lr must be more than 0$/],
    [['--lr', '11'], /^--lr 11: lr must be at most 10$/],
    [['--precision', 'int4'], /^--precision must be one of fp32, amp-fp16, amp-bf16; got 'int4'$/],
    [['--optimizer', 'adafactor'], /^--optimizer must be one of sgd, sgd-momentum, adam, adamw/],
    [['--checkpoint', 'selective'], /^--checkpoint must be one of none, full, sqrt/],
    [['--model', 'llama-2-7b'], /^--model must be one of mlp/],
    [['--seq', '4'], /^unknown flag --seq/],
  ])('%j → one line naming the flag', (argv, message) => {
    const e = usage(argv);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('--help wins over bad values and documents every flag with its default', () => {
    expect(parseRunArgs(['--help', '--d', '0']).help).toBe(true);
    const text = runUsage();
    for (const f of RUN_FLAGS) expect(text).toContain(`--${f.name}`);
    expect(text).toContain(`(default ${DEFAULT_RUN.hidden})`);
  });
});

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', env: {}, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('main run', () => {
  it('a bad flag exits 2 before the engine loads', async () => {
    const io = capture();
    expect(await main(['run', '--batch', '0'], io)).toBe(2);
    expect(io.stdout).toBe('');
    expect(io.stderr).toBe("vramlab run: --batch must be a whole number ≥ 1, got '0'\n");
  });

  it('run --help prints the usage', async () => {
    const io = capture();
    expect(await main(['run', '--help'], io)).toBe(0);
    expect(io.stdout).toBe(runUsage());
  });
});

describe('formatRunReport', () => {
  const config = { ...DEFAULT_RUN, d: 16, hidden: 32, steps: 3 };
  const plan = estimate(planConfigOf(config));
  const bytes = { ...plan.bytes, activations: plan.bytes.activations + 2048 };
  const report: RunReport = {
    adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', features: [], limits: {}, isFallbackAdapter: true },
    config,
    estimate: plan,
    actual: {
      peakBytes: plan.peak.bytes,
      bytes,
      aliveAtPeak: plan.peak.alive,
      allocatedPeakBytes: plan.peak.bytes,
      physicalPeakBytes: plan.peak.bytes + 100,
      stagingBytes: 20,
      liveAfterDisposeBytes: 0,
    },
    timing: { stepMs: 12.345, phasesMs: { forward: 1, backward: 2.5, recompute: 0, optimizer: 0.25 }, source: 'wall-clock' },
    loss: [0.5, 0.25, 0.125],
    skippedSteps: 0,
    timeline: [{ op: 0, label: 'x', bytes: zeroCategories() }],
  };

  it('puts estimate, measurement and difference side by side, with timing and loss', () => {
    const text = formatRunReport(report);
    expect(text).toMatch(/^Adapter SwiftShader · google · swiftshader \(fallback/);
    expect(text).toMatch(/^ {2}activations +\S.* \+2\.00 KiB \(\+\d+\.\d%\)$/m);
    expect(text).toMatch(/^ {2}weights +.* exact$/m);
    expect(text).toMatch(/^ {2}peak +.* exact$/m);
    expect(text).toMatch(/^Live after dispose +0 B +everything released$/m);
    expect(text).toMatch(/^Time per step 12\.3 ms/m);
    expect(text).toMatch(/^ {2}recompute +0 ms$/m);
    expect(text).toMatch(/by the wall clock/);
    expect(text).toMatch(/^Loss +0\.500000 → 0\.125000 over 3 steps$/m);
    expect(text).toMatch(/^Skipped 0 steps/m);
  });

  it('formats progress lines', () => {
    expect(formatProgress({ stage: 'step', step: 2, steps: 10, loss: 0.123456789 })).toBe('step  2/10  loss 0.123457\n');
    expect(formatProgress({ stage: 'done', step: 10, steps: 10 })).toBe('');
  });
});

describe('error lines stay one printable line', () => {
  it('folds newlines and escapes terminal control characters echoed from the input', async () => {
    const io = capture();
    expect(await main(['estimate', '--batch', '1\n2\u001b[31m'], io)).toBe(2);
    expect(io.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(io.stderr).not.toContain('\u001b');
    expect(io.stderr).toContain('\\x1b');
    const long = capture();
    expect(await main(['estimate', `--${'x'.repeat(5000)}`], long)).toBe(2);
    expect(long.stderr.length).toBeLessThan(600);
  });
});
