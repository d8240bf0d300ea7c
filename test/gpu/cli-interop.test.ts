/**
 * `vramlab run --trace / --memory-snapshot / --format csv`, spawned as a user runs it, on a
 * one-step mlp: the trace is the page's, the snapshot reads back through Python's pickle to the
 * ledger's events and peak, the CSV rows carry the report's numbers.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { readMemorySnapshot, replaySnapshot } from '../../src/protocol/memory-snapshot.ts';
import { planConfigOf, type RunConfig, type RunReport } from '../../src/protocol/run.ts';
import { reportToTrace, traceToJson } from '../../src/ui/export.ts';
import { runCli } from '../helpers/cli.ts';
import { csvRecords } from '../helpers/csv.ts';
import { NO_PYTHON, hasPython, python } from '../helpers/python.ts';

const TIMEOUT = 120_000;
const SMALL = ['--d', '16', '--hidden', '32', '--layers', '2', '--batch', '8', '--steps', '1'];

describe('vramlab run: files for other tools (spawned)', () => {
  it('--trace writes the page\'s trace and --memory-snapshot a snapshot whose replay is the ledger\'s', { timeout: TIMEOUT }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vramlab-interop-'));
    const tracePath = join(dir, 'step.trace.json');
    const snapPath = join(dir, 'step.pickle');
    const r = await runCli(['run', ...SMALL, '--checkpoint', 'sqrt', '--json', '--trace', tracePath, '--memory-snapshot', snapPath], { timeoutMs: TIMEOUT - 5_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RunReport;

    // The same bytes the page's export button downloads for this report.
    expect(readFileSync(tracePath, 'utf8')).toBe(traceToJson(reportToTrace(report)));

    const bytes = new Uint8Array(readFileSync(snapPath));
    const events = report.timeline.filter((p) => p.category !== null);
    const creates = events.filter((p) => p.event === 'create');
    const destroys = events.filter((p) => p.event === 'destroy');
    const replay = replaySnapshot(readMemorySnapshot(bytes));
    expect(replay.peakBytes).toBe(report.actual.peakBytes);
    expect([replay.allocs, replay.frees]).toEqual([creates.length, destroys.length]);
    console.log(`snapshot of a 1-step mlp (sqrt checkpointing): ${bytes.length} B, ${replay.events} trace events (${replay.allocs} allocs, ${replay.frees} frees), replay peak ${replay.peakBytes} B = ledger peak ${report.actual.peakBytes} B`);

    if (!hasPython) {
      console.log(NO_PYTHON);
      return;
    }
    const py = JSON.parse(
      python(
        `
import pickle, sys, json
s = pickle.load(open(sys.argv[1] if len(sys.argv) > 1 else ${JSON.stringify(snapPath)}, 'rb'))
t = s['device_traces'][0]
live, init = set(), 0
for e in t:
    if e['action'] == 'alloc': live.add(e['addr'])
    elif e['action'] == 'free_completed':
        if e['addr'] in live: live.remove(e['addr'])
        else: init += e['size']
for seg in s['segments']:
    for b in seg['blocks']:
        if b['state'] == 'active_allocated' and b['address'] not in live: init += b['requested_size']
cur, peak = init, 0
for e in t:
    if e['action'] == 'alloc': cur += e['size']
    elif e['action'] == 'free_completed': cur -= e['size']
    else: continue
    peak = max(peak, cur)
allocs = [(e['frames'][0]['name'], e['frames'][1]['name'], e['frames'][2]['name'], e['size']) for e in t if e['action'] == 'alloc']
frees = [(e['frames'][0]['name'], e['size']) for e in t if e['action'] == 'free_completed']
print(json.dumps({'peak': peak, 'allocs': allocs, 'frees': frees}))
`,
      ),
    ) as { peak: number; allocs: [string, string, string, number][]; frees: [string, number][] };
    expect(py.peak).toBe(report.actual.peakBytes);
    expect(py.allocs).toEqual(creates.map((p) => [p.name, p.category, p.label || '(setup)', p.tensorBytes]));
    expect(py.frees).toEqual(destroys.map((p) => [p.name, p.tensorBytes]));
  });

  it('--sweep … --format csv prints the results CSV the page exports, one row per point', { timeout: TIMEOUT }, async () => {
    const r = await runCli(['run', '--d', '16', '--hidden', '32', '--layers', '2', '--steps', '1', '--sweep', 'batch=4,8', '--format', 'csv'], { timeoutMs: TIMEOUT - 5_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = csvRecords(r.stdout);
    expect(rows.map((x) => [x.id, x.status, x.batch])).toEqual([
      ['batch=4', 'done', '4'],
      ['batch=8', 'done', '8'],
    ]);
    for (const row of rows) {
      const config: RunConfig = { model: 'mlp', d: 16, hidden: 32, layers: 2, batch: Number(row.batch), activation: 'gelu', precision: 'fp32', optimizer: 'adam', checkpoint: 'none', steps: 1, seed: 1 };
      const plan = estimate(planConfigOf(config));
      // The engine's estimate is its ledger: measured and estimated peaks are the same number.
      expect(Number(row.estimated_peak_bytes)).toBe(plan.peak.bytes);
      expect(Number(row.measured_peak_bytes)).toBe(plan.peak.bytes);
      expect(Number(row.measured_weights_bytes)).toBe(plan.bytes.weights);
    }
  });
});
