import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.ts';
import { PLAN_CATEGORIES, type Plan } from '../../src/protocol/plan.ts';
import type { FitResult } from '../../src/estimate/fit.ts';
import { writePickle } from '../../src/protocol/pickle.ts';
import { csvRecords, parseCsv } from '../helpers/csv.ts';
import { ROOT, runCli } from '../helpers/cli.ts';

async function cli(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), env: {} };
  const status = await main(argv, io);
  return { status, out, err };
}

/** Status 2, nothing on stdout, one line on stderr matching every part. */
function expectRefusal(r: { status: number; out: string; err: string }, ...parts: RegExp[]): void {
  expect(r.status, r.err).toBe(2);
  expect(r.out).toBe('');
  const lines = r.err.trimEnd().split('\n');
  expect(lines, r.err).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toMatch(p);
}

const FIXTURE = join(ROOT, 'test/fixtures/torch-mlp-step.pickle');
const EXPECTED = (await import('../fixtures/torch-mlp-step.expected.json', { with: { type: 'json' } })).default as { peakBytes: number; phasePeakBytes: Record<string, number>; plan: string[] };

describe('--format csv', () => {
  it('estimate: the breakdown the page exports, its numbers those of --json', async () => {
    const flags = ['--model', 'llama-3.2-1b', '--batch', '2', '--seq', '512', '--lora-rank', '8'];
    const csv = await cli(['estimate', ...flags, '--format', 'csv']);
    const json = await cli(['estimate', ...flags, '--json']);
    expect(csv.status, csv.err).toBe(0);
    const plan = JSON.parse(json.out) as Plan;
    const rows = csvRecords(csv.out);
    expect(parseCsv(csv.out)[0]).toEqual(['kind', 'key', 'label', 'bytes', 'formula', 'source']);
    for (const c of PLAN_CATEGORIES) expect(Number(rows.find((r) => r.kind === 'category' && r.key === c)!.bytes), c).toBe(plan.bytes[c]);
    expect(Number(rows.find((r) => r.kind === 'peak')!.bytes)).toBe(plan.peak.bytes);
    expect(Number(rows.find((r) => r.kind === 'total')!.bytes)).toBe(plan.totalBytes);
    const terms = rows.filter((r) => r.kind === 'term');
    expect(terms.map((t) => Number(t.bytes))).toEqual(plan.terms.map((t) => t.bytes));
    expect(terms.map((t) => t.formula)).toEqual(plan.terms.map((t) => t.formula));
  });

  it('fit: one row per change, the current state and the largest batch and seq, as --json', async () => {
    const flags = ['--gpu-memory', '8', '--model', 'gpt2-small', '--batch', '16'];
    const csv = await cli(['fit', ...flags, '--format', 'csv']);
    const json = await cli(['fit', ...flags, '--json']);
    expect(csv.status, csv.err).toBe(0);
    const fit = JSON.parse(json.out) as FitResult;
    const rows = csvRecords(csv.out);
    const current = rows.find((r) => r.kind === 'current')!;
    expect([Number(current.peak_bytes), Number(current.total_bytes), Number(current.headroom_bytes), current.fits]).toEqual([fit.current.peakBytes, fit.current.totalBytes, fit.current.headroomBytes, 'no']);
    const suggestions = rows.filter((r) => r.kind === 'suggestion');
    expect(suggestions.length).toBe(fit.suggestions.length);
    expect(fit.suggestions.length).toBeGreaterThan(0);
    suggestions.forEach((r, i) => {
      const s = fit.suggestions[i]!;
      expect([r.change, Number(r.total_bytes), Number(r.headroom_bytes), Number(r.extra_flops_fraction), JSON.parse(r.patch!)]).toEqual([s.change, s.totalBytes, s.headroomBytes, s.cost.extraFlopsFraction, s.patch]);
    });
    expect(Number(rows.find((r) => r.kind === 'largest-batch')!.total_bytes)).toBe(fit.largestBatch!.totalBytes);
    expect(rows.find((r) => r.kind === 'largest-seq')!.change).toBe(`seq ${fit.largestSeq!.value}`);
  });

  it('--json with another --format, and an unknown format, are refused', async () => {
    expectRefusal(await cli(['estimate', '--json', '--format', 'csv']), /--json and --format csv/);
    expectRefusal(await cli(['fit', '--gpu-memory', '8', '--format', 'xml']), /--format must be one of text, json, csv/);
    expectRefusal(await cli(['run', '--format', 'yaml']), /--format must be one of/);
  });

  it('the real bin writes CRLF line ends as they are (not escaped)', { timeout: 60_000 }, async () => {
    const r = await runCli(['estimate', '--format', 'csv'], { timeoutMs: 55_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^kind,key,label,bytes,formula,source\r\n/);
    expect(parseCsv(r.stdout).length).toBeGreaterThan(10);
  });
});

describe('vramlab compare --snapshot', () => {
  it('replays the PyTorch fixture to its peak, beside the estimate of the same plan, per phase', async () => {
    const r = await cli(['compare', '--snapshot', FIXTURE, ...EXPECTED.plan, '--json']);
    expect(r.status, r.err).toBe(0);
    const c = JSON.parse(r.out) as { snapshot: { peakBytes: number }; estimate: { peakBytes: number; framework: string }; rows: { phase: string; measuredBytes: number; estimatedBytes: number; error: number }[] };
    const plan = JSON.parse((await cli(['estimate', ...EXPECTED.plan, '--json'])).out) as Plan;
    expect(c.snapshot.peakBytes).toBe(EXPECTED.peakBytes);
    expect(c.estimate).toMatchObject({ peakBytes: plan.peak.bytes, framework: 'pytorch' });
    for (const phase of ['forward', 'backward', 'optimizer']) {
      const row = c.rows.find((x) => x.phase === phase)!;
      expect(row.measuredBytes, phase).toBe(EXPECTED.phasePeakBytes[phase]);
      const est = Math.max(...plan.timeline.filter((p) => p.phase === phase).map((p) => PLAN_CATEGORIES.reduce((s, k) => s + p.bytes[k], 0)));
      expect(row.estimatedBytes, phase).toBe(est);
      expect(row.error).toBeCloseTo((est - row.measuredBytes) / row.measuredBytes, 12);
    }
    const peak = c.rows.find((x) => x.phase === 'peak')!;
    expect([peak.measuredBytes, peak.estimatedBytes]).toEqual([EXPECTED.peakBytes, plan.peak.bytes]);

    const text = await cli(['compare', '--snapshot', FIXTURE, ...EXPECTED.plan]);
    expect(text.out).toMatch(/^Snapshot {2}.*112 trace events \(51 allocs, 27 frees\)/);
    expect(text.out).toMatch(/\n {2}optimizer +17\.16 MiB .* [+-]\d+\.\d %\n/);
    const csv = csvRecords((await cli(['compare', '--snapshot', FIXTURE, ...EXPECTED.plan, '--format', 'csv'])).out);
    expect(csv.map((x) => x.phase)).toEqual(['forward', 'backward', 'optimizer', 'peak']);
    expect(Number(csv[3]!.measured_bytes)).toBe(EXPECTED.peakBytes);
  });

  it('refuses bad files and flags with one line, status 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vramlab-compare-'));
    const file = (name: string, bytes: Uint8Array | string) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    };
    const whole = new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(FIXTURE)));
    expectRefusal(await cli(['compare', '--model', 'mlp']), /--snapshot is required/);
    expectRefusal(await cli(['compare', '--snapshot']), /--snapshot needs the path/);
    expectRefusal(await cli(['compare', '--snapshot', join(dir, 'none.pickle')]), /--snapshot: cannot read .*no such file/);
    expectRefusal(await cli(['compare', '--snapshot', dir]), /directory/);
    expectRefusal(await cli(['compare', '--snapshot', file('cut.pickle', whole.subarray(0, 5000))]), /^vramlab compare: --snapshot .*cut\.pickle: not a readable pickle: the data ends early/);
    expectRefusal(await cli(['compare', '--snapshot', file('evil.pickle', Uint8Array.from([0x80, 2, 0x63, ...Buffer.from('os\nsystem\n'), 0x2e]))]), /GLOBAL would load or call Python code/);
    expectRefusal(await cli(['compare', '--snapshot', file('list.pickle', writePickle([1]))]), /not a memory snapshot/);
    expectRefusal(await cli(['compare', '--snapshot', file('text.pickle', 'segments,device_traces\n')]), /unsupported opcode 0x73|not a readable pickle/);
    expectRefusal(await cli(['compare', '--snapshot', FIXTURE, '--mode', 'inference']), /drop --mode inference/);
    expectRefusal(await cli(['compare', '--snapshot', FIXTURE, '--snapshot', FIXTURE]), /given twice/);
    expectRefusal(await cli(['compare', '--snapshot', FIXTURE, '--bogus']), /unknown flag --bogus; see vramlab compare --help/);
  });
});

describe('vramlab run --trace / --memory-snapshot (checked before the device opens)', () => {
  it('refuses a path that cannot be written, an empty one, the same file twice, and files with --sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vramlab-out-'));
    expectRefusal(await cli(['run', '--trace', join(dir, 'no/such/dir/t.json')]), /--trace .*cannot write there \(the folder .* does not exist\)/);
    expectRefusal(await cli(['run', '--memory-snapshot', dir]), /--memory-snapshot .*it is a folder/);
    expectRefusal(await cli(['run', '--trace=']), /--trace needs a file path/);
    expectRefusal(await cli(['run', '--trace', join(dir, 'x'), '--memory-snapshot', join(dir, 'x')]), /name the same file/);
    expectRefusal(await cli(['run', '--sweep', 'batch=2,4', '--trace', join(dir, 't.json')]), /--trace writes the file of one run; drop --sweep/);
  });
});
