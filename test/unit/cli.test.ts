import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, type CliResult } from '../helpers/cli.ts';
import { formatBytes, formatPlan } from '../../src/cli/format.ts';
import { PLAN_CATEGORIES, zeroCategories, type Plan } from '../../src/protocol/plan.ts';

const TIMEOUT = 60_000;


/** Runs the real bin the way a user does, so the tsx start-up and exit codes are covered too. */
function vramlab(args: string[], cwd = ROOT): Promise<CliResult> {
  return runCli(args, { cwd, timeoutMs: TIMEOUT - 5_000 });
}

/** A bad input: status 2, nothing on stdout, one line on stderr that names the flag. */
function expectUsageError(r: CliResult, flag: string): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(flag);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe.concurrent('vramlab (spawned)', () => {
  it('estimate --json prints the Plan with integer bytes', { timeout: TIMEOUT }, async () => {
    const r = await vramlab(['estimate', '--json', '--batch', '4', '--seq', '512', '--gpu-memory', '24']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(Number.isInteger(plan.params) && plan.params > 0).toBe(true);
    expect(Number.isInteger(plan.peak.bytes) && plan.peak.bytes > 0).toBe(true);
    expect(typeof plan.peak.phase).toBe('string');
    expect(Number.isInteger(plan.textbook.bytes)).toBe(true);
    expect(Number.isInteger(plan.totalBytes)).toBe(true);
    for (const c of PLAN_CATEGORIES) expect(Number.isInteger(plan.bytes[c]), c).toBe(true);
    expect(plan.fits.length).toBeGreaterThan(1);
    for (const f of plan.fits) {
      expect(typeof f.gpu).toBe('string');
      expect(Number.isInteger(f.memoryBytes)).toBe(true);
      expect(typeof f.fits).toBe('boolean');
    }
    expect(plan.fits.at(-1)!.memoryBytes).toBe(24 * 2 ** 30);
  });

  it('estimate prints a readable table with units', { timeout: TIMEOUT }, async () => {
    const r = await vramlab(['estimate', '--model', 'mlp', '--d', '512', '--hidden', '2048', '--layers', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('GiB');
    expect(r.stdout).toMatch(/\d\.\d\d GiB \(\d+\.\d\d GB\)/);
    expect(r.stdout).toMatch(/Peak/);
    expect(r.stdout).toMatch(/[✓✗]/);
  });

  it('--help and --version exit 0', { timeout: TIMEOUT }, async () => {
    const [help, version] = await Promise.all([vramlab(['estimate', '--help']), vramlab(['--version'])]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--micro-batch');
    expect(help.stdout).toContain('amp-bf16');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('no command prints usage and exits 2; an unknown command is named', { timeout: TIMEOUT }, async () => {
    const [none, unknown] = await Promise.all([vramlab([]), vramlab(['frobnicate'])]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('vramlab estimate');
    expectUsageError(unknown, "unknown command 'frobnicate'");
  });

  it.each([
    // The third column: what the line must also say, e.g. the allowed values.
    [['--model', 'no-such-model'], '--model', 'gpt2-small'],
    [['--foo'], '--foo', 'unknown flag'],
    [['--batch', '0'], '--batch', '≥ 1'],
    [['--batch', '-3'], '--batch', "'-3'"],
    [['--batch', '1.5'], '--batch', "'1.5'"],
    [['--batch', '1e12'], '--batch', "'1e12'"],
    [['--precision', 'fp6'], '--precision', 'amp-bf16'],
    [['--hf-config', 'missing.json'], '--hf-config', 'no such file'],
    [['--batch', '8', '--micro-batch', '3'], '--micro-batch', 'divide'],
  ])('estimate %j exits 2 naming %s', { timeout: TIMEOUT }, async (args, flag, says) => {
    const r = await vramlab(['estimate', ...args]);
    expectUsageError(r, flag);
    expect(r.stderr).toContain(says);
  });

  it('reads --hf-config relative to any cwd and rejects malformed JSON', { timeout: TIMEOUT }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vramlab-cli-'));
    const gpt2 = { model_type: 'gpt2', vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(gpt2));
    writeFileSync(join(dir, 'broken.json'), '{"model_type": "llama", "hidden_size": ');
    const [ok, bad] = await Promise.all([
      vramlab(['estimate', '--hf-config', 'config.json', '--json'], dir),
      vramlab(['estimate', '--hf-config', 'broken.json'], dir),
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    const plan = JSON.parse(ok.stdout) as Plan;
    expect(plan.model.id).toBe('hf');
    // GPT-2 small's well-known count: the config alone must reproduce it.
    expect(plan.params).toBe(124_439_808);
    expectUsageError(bad, '--hf-config');
    expect(bad.stderr).toContain('not valid JSON');
  });
});

describe('formatPlan', () => {
  const GiB = 2 ** 30;
  const bytes = { ...zeroCategories(), weights: 2 * GiB, gradients: GiB, activations: 3 * GiB };
  const plan: Plan = {
    model: { id: 'toy', name: 'Toy', family: 'mlp', params: 1_000_000_000, trainableParams: 1_000_000_000, layers: 4 },
    params: 1_000_000_000,
    trainableParams: 1_000_000_000,
    bytes,
    peak: { bytes: 6 * GiB, phase: 'backward', alive: bytes, at: 'block 3 backward' },
    textbook: { bytes: 16 * GiB, formula: 'params × 4 B × (1 + 1 + 2) + activations' },
    timeline: [{ label: 'block 3 backward', phase: 'backward', bytes }],
    overhead: { cudaContextBytes: 512 * 2 ** 20, allocatorBytes: 0.5 * GiB },
    totalBytes: 7 * GiB,
    fits: [
      { gpu: 'Small 4 GB', memoryBytes: 4 * GiB, fits: false, headroomBytes: -3 * GiB },
      { gpu: 'Big 80 GB', memoryBytes: 80 * GiB, fits: true, headroomBytes: 73 * GiB },
    ],
    terms: [{ category: 'activations', label: 'block outputs', bytes: 3 * GiB, formula: 'b·s·d × 4 B × L', source: 'Korthikanti et al. 2022' }],
    notes: ['a toy plan'],
  };

  it('shows non-zero categories, the peak, overheads, fits, terms and notes', () => {
    const text = formatPlan(plan);
    expect(text).toContain('Toy [toy]');
    expect(text).toContain('1,000,000,000 (1.0 B)');
    expect(text).toMatch(/weights\s+2\.00 GiB \(2\.15 GB\)/);
    expect(text).not.toMatch(/KV cache/);
    expect(text).toMatch(/Peak\s+6\.00 GiB \(6\.44 GB\)\s+in backward, at block 3 backward/);
    expect(text).toContain('alive at the peak: weights 2.00 GiB, gradients 1.00 GiB, activations 3.00 GiB');
    expect(text).toMatch(/CUDA context\s+512\.00 MiB/);
    expect(text).toMatch(/Allocator overhead\s+512\.00 MiB/);
    expect(text).toMatch(/Total\s+7\.00 GiB/);
    expect(text).toMatch(/Textbook rule of thumb\s+16\.00 GiB/);
    expect(text).toMatch(/✗\s+Small 4 GB\s+4\.00 GiB \(4\.29 GB\)\s+3\.00 GiB \(3\.22 GB\) short/);
    expect(text).toMatch(/✓\s+Big 80 GB\s+80\.00 GiB \(85\.90 GB\)\s+73\.00 GiB \(78\.38 GB\) headroom/);
    expect(text).toContain('b·s·d × 4 B × L');
    expect(text).toContain('source: Korthikanti et al. 2022');
    expect(text).toContain('- a toy plan');
  });

  it('rounds rather than truncates, and shows small sizes once', () => {
    expect(formatBytes(13_476_000_000)).toBe('12.55 GiB (13.48 GB)');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB (1.54 kB)');
  });
});
