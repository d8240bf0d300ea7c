import { describe, expect, it } from 'vitest';
import type { EngineRunReport } from '../../src/protocol/engine-api.ts';
import { DEFAULT_RUN } from '../../src/protocol/run.ts';
import { RESULTS_CSV_HEADER, RESULTS_SCHEMA, resultsFileName, resultsToCsv, resultsToJson, type ResultRun } from '../../src/ui/results-export.ts';
import { estimateRun } from '../../src/ui/run-estimate.ts';
import { stepTimeSummary } from '../../src/ui/step-time.ts';

const config = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 2, batch: 4, steps: 3 };
const plan = estimateRun(config);
const report = {
  config,
  adapter: { description: 'SwiftShader', vendor: 'google' },
  estimate: plan,
  actual: { peakBytes: plan.peak.bytes, bytes: plan.bytes, aliveAtPeak: plan.peak.alive },
  timing: { stepsMs: [50, 12, 10] },
  work: { totalFlops: 123456 },
} as unknown as EngineRunReport;

const runs: ResultRun[] = [
  { id: 'none', label: 'none', status: 'done', config, estimatedPeakBytes: plan.peak.bytes, report },
  { id: 'full', label: '=full, "odd"', status: 'failed', config: { ...config, checkpoint: 'full' }, estimatedPeakBytes: null, report: null, failure: 'OutOfMemory: no room' },
];

describe('lesson and experiment results as files', () => {
  it('CSV: the header, then one row per run with exact bytes, counted work and the step-time spread', () => {
    const lines = resultsToCsv(runs).trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(RESULTS_CSV_HEADER.join(','));
    const cells = lines[1]!.split(',');
    const col = (name: (typeof RESULTS_CSV_HEADER)[number]) => cells[RESULTS_CSV_HEADER.indexOf(name)];
    expect(col('measured_peak_bytes')).toBe(String(plan.peak.bytes));
    expect(col('measured_activations_bytes')).toBe(String(plan.bytes.activations));
    expect(col('counted_flops_per_step')).toBe('123456');
    expect(col('step_ms_median')).toBe(String(stepTimeSummary([50, 12, 10]).median));
    expect(col('step_ms_min')).toBe('10');
    expect(col('step_ms_max')).toBe('12');
    // Text that looks like a formula is defused and quoted.
    expect(lines[2]).toContain(`"'=full, ""odd"""`);
    expect(lines[2]).toContain('OutOfMemory: no room');
  });

  it('JSON: a versioned header, what ran, and each run with its measurement or its failure', () => {
    const doc = JSON.parse(resultsToJson('lesson checkpointing', runs, new Date('2026-11-29T10:00:00Z')));
    expect(doc.vramlab.schema).toBe(RESULTS_SCHEMA);
    expect(doc.what).toBe('lesson checkpointing');
    expect(doc.runs[0].measured.peakBytes).toBe(plan.peak.bytes);
    expect(doc.runs[0].countedFlops).toBe(123456);
    expect(doc.runs[1].measured).toBeNull();
    expect(doc.runs[1].failure).toBe('OutOfMemory: no room');
    expect(resultsFileName('lesson checkpointing', 'csv', new Date('2026-11-29T10:00:00Z'))).toBe('vramlab-lesson-checkpointing-2026-11-29T10-00-00Z.csv');
  });
});
