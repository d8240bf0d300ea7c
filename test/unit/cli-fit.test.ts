import { describe, expect, it } from 'vitest';
import { parseEstimateArgs, parseFitArgs } from '../../src/cli/args.ts';
import { formatFit, patchFlags } from '../../src/cli/format.ts';
import { fitUsage } from '../../src/cli/help.ts';
import { estimate, makeItFit, type FitResult } from '../../src/estimate/index.ts';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { usageErrorOf } from '../helpers/usage.ts';

const TIMEOUT = 60_000;
const GiB = 2 ** 30;

const vramlab = (args: string[]): Promise<CliResult> => runCli(args, { timeoutMs: TIMEOUT - 5_000 });

/** A bad input: status 2, nothing on stdout, one line on stderr that names the flag. */
function expectUsageError(r: CliResult, flag: string): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^vramlab fit: /);
  expect(lines[0]).toContain(flag);
}

describe('parseFitArgs', () => {
  it('takes exactly the estimate flags, with --gpu-memory as the capacity', () => {
    const argv = ['--model', 'llama-3.2-1b', '--batch', '4', '--seq', '2048', '--checkpoint', 'sqrt', '--gpu-memory', '23.5', '--json'];
    const fit = parseFitArgs(argv);
    expect(fit.capacityGiB).toBe(23.5);
    expect(fit.config).toEqual(parseEstimateArgs(argv).config);
    expect(fit.json).toBe(true);
  });

  it.each([
    [[], '--gpu-memory is required'],
    [['--gpu-memory', '0'], "'0'"],
    [['--gpu-memory', '-24'], "'-24'"],
    [['--gpu-memory', 'abc'], "'abc'"],
    [['--gpu-memory', '2000000'], 'at most'],
    [['--gpu-memory', '24', '--frob'], 'see vramlab fit --help'],
  ])('%j is refused with one line naming the flag', (argv, says) => {
    const err = usageErrorOf(() => parseFitArgs(argv), argv);
    expect(err.message).toContain(says);
    expect(err.message).not.toContain('\n');
  });

  it('help needs no capacity and lists every estimate flag', () => {
    expect(parseFitArgs(['--help']).help).toBe(true);
    const text = fitUsage(['gpt2-small']);
    expect(text).toMatch(/--gpu-memory GiB +the GPU size to fit in \(required\)/);
    for (const flag of ['--micro-batch', '--lora-rank', '--zero', '--checkpoint', '--hf-config']) expect(text).toContain(flag);
  });
});

/** Flags and their values: `--seq 354 --qlora` → [['--seq', '354'], ['--qlora']]. */
function flagGroups(tokens: readonly string[]): string[][] {
  const groups: string[][] = [];
  for (const t of tokens) {
    if (t.startsWith('--') || groups.length === 0) groups.push([t]);
    else groups[groups.length - 1]!.push(t);
  }
  return groups;
}

/** The command line with each of `extra`'s flags set to its new value, as a user edits it (a flag is given once). */
function setFlags(argv: readonly string[], extra: readonly string[]): string[] {
  const changes = flagGroups(extra);
  const names = new Set(changes.map((g) => g[0]));
  return [...flagGroups(argv).filter((g) => !names.has(g[0])), ...changes].flat();
}

describe('formatFit', () => {
  const argv = ['--model', 'gpt2-small', '--batch', '8', '--seq', '1024', '--precision', 'fp32', '--attention', 'eager'];
  const { config } = parseEstimateArgs(argv);
  const r = makeItFit(config, 8 * GiB);

  it('prints flags that, given to estimate, make exactly the suggested configuration', () => {
    expect(r.suggestions.length).toBeGreaterThan(1);
    for (const s of [...r.suggestions, r.largestBatch!, r.largestSeq!]) {
      const again = parseEstimateArgs(setFlags(argv, patchFlags(s.patch).split(' '))).config;
      expect(again).toEqual({ ...config, ...s.patch });
    }
    expect(patchFlags({ loraRank: 16, qlora: true, zero: 3, gpus: 8 })).toBe('--lora-rank 16 --qlora --zero 3 --gpus 8');
  });

  it('lists the suggestions in order with totals, costs, flags and notes, then the largest sizes', () => {
    const text = formatFit(r, estimate(config), config);
    expect(text).toContain(r.message);
    expect(text).toContain('Changes that fit, cheapest first:');
    const full = r.suggestions.findIndex((s) => s.change === 'checkpoint full');
    expect(text).toMatch(new RegExp(`${full + 1}\\.\\s+checkpoint full\\s+\\d+\\.\\d\\d GiB\\s+\\+2\\d\\.\\d% FLOPs`));
    expect(text).toContain('      --checkpoint full\n');
    expect(text).toMatch(/Largest batch that fits: 1, \d+\.\d\d GiB in total {2}\[--batch 1\]/);
    expect(text).toMatch(/Largest seq that fits: \d+, /);
    let at = -1;
    for (const s of r.suggestions) {
      const i = text.indexOf(` ${s.change} `);
      expect(i, s.change).toBeGreaterThan(at);
      at = i;
    }
  });

  it('names the micro-batch under gradient accumulation, and the bound when the search reached it', () => {
    const acc = parseEstimateArgs(['--model', 'gpt2-small', '--batch', '16', '--micro-batch', '4', '--seq', '512']).config;
    const text = formatFit(makeItFit(acc, 12 * GiB), estimate(acc), acc);
    expect(text).toMatch(/Largest micro-batch that fits: (\d+), .*\[--batch \d+ --micro-batch \1\]/);
    expect(text).toContain('Largest seq that fits: 1,024 (the upper bound searched)');
  });

  it('says when nothing fits, and prints no largest sequence for a model without one', () => {
    const mlp = parseEstimateArgs(['--model', 'mlp']).config;
    const none = makeItFit(mlp, 0.1 * GiB);
    expect(none.fitsNowhere).toBe(true);
    const text = formatFit(none, estimate(mlp), mlp);
    expect(text).toContain('Fits nowhere in 0.10 GiB');
    expect(text).toContain('Largest batch that fits: none, even 1 does not');
    expect(text).not.toContain('Largest seq');
  });
});

describe.concurrent('vramlab fit (spawned)', () => {
  it('--json prints the FitResult makeItFit gives in-process', { timeout: TIMEOUT }, async () => {
    const argv = ['--model', 'llama-2-7b', '--batch', '1', '--seq', '2048', '--gpu-memory', '24'];
    const r = await vramlab(['fit', ...argv, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout) as FitResult;
    expect(result).toEqual({ schema: 'vramlab.fit/1', ...makeItFit(parseEstimateArgs(argv).config, 24 * GiB) });
    expect(result.suggestions.length).toBeGreaterThan(0);
    for (const s of result.suggestions) expect(s.totalBytes).toBeLessThanOrEqual(24 * GiB);
  });

  it('prints the table; a bad --gpu-memory exits 2 with one line', { timeout: TIMEOUT }, async () => {
    const [ok, bad, missing] = await Promise.all([
      vramlab(['fit', '--gpu-memory', '8', '--model', 'gpt2-small', '--precision', 'fp32']),
      vramlab(['fit', '--gpu-memory', 'lots', '--model', 'gpt2-small']),
      vramlab(['fit', '--model', 'gpt2-small']),
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^Model {3}GPT-2 small/);
    expect(ok.stdout).toContain('cheapest first:');
    expectUsageError(bad, '--gpu-memory');
    expectUsageError(missing, '--gpu-memory is required');
  });
});
