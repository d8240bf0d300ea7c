import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, zeroCategories, type CategoryBytes } from '../../src/protocol/plan.ts';
import { DEFAULT_RUN, PHASE_NAMES, planConfigOf, type RunConfig, type RunReport } from '../../src/protocol/run.ts';
import {
  REPORT_SCHEMA,
  TRACE_PID,
  TRACE_TIDS,
  VRAMLAB_VERSION,
  exportFileName,
  reportToJson,
  reportToTrace,
  traceToJson,
  type Trace,
} from '../../src/ui/export.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';

const total = (b: CategoryBytes): number => PLAN_CATEGORIES.reduce((s, c) => s + b[c], 0);
const bytes = (over: Partial<CategoryBytes>): CategoryBytes => ({ ...zeroCategories(), ...over });

/**
 * The shape of an mlp step with sqrt checkpointing: setup (unlabelled), forward, loss, then
 * backward interleaved with recompute, then optimizer — so a phase comes in several runs.
 */
const LABELS = [
  '',
  'forward block 0',
  'forward block 0',
  'forward block 1',
  'loss',
  'backward block 1',
  'recompute block 0',
  'backward block 0',
  'backward block 0',
  'optimizer',
];

/** Timeline points of these ops and bytes; which tensor each event names does not matter here. */
const points = (ps: { op: number; label: string; bytes: RunReport['timeline'][number]['bytes'] }[]): RunReport['timeline'] =>
  ps.map((p) => ({ ...p, event: 'create', name: 't', category: 'weights', tensorBytes: 0 }));

function makeReport(over: { timeline?: RunReport['timeline']; phasesMs?: RunReport['timing']['phasesMs']; config?: Partial<RunConfig> } = {}): RunReport {
  const config: RunConfig = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 2, batch: 4, steps: 2, checkpoint: 'sqrt', ...over.config };
  const plan = estimate(planConfigOf(config));
  const timeline =
    over.timeline ??
    points(
      LABELS.map((label, op) => ({
        op,
        label,
        bytes: bytes({ weights: 1024, gradients: op > 4 ? 1024 : 0, optimizer: 2048, activations: 64 * (op % 5), inputs: 128 }),
      })),
    );
  return {
    adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', features: [], limits: {}, isFallbackAdapter: true },
    config,
    estimate: plan,
    actual: {
      peakBytes: Math.max(0, ...timeline.map((p) => total(p.bytes))),
      bytes: plan.bytes,
      aliveAtPeak: plan.peak.alive,
      allocatedPeakBytes: 0,
      physicalPeakBytes: 0,
      stagingBytes: 8,
      liveAfterDisposeBytes: 0,
    },
    timing: { warmupMs: 40, warmupPipelines: 3, stepMs: 5, stepsMs: [5, 5], recordMs: 0.5, phasesMs: over.phasesMs ?? { forward: 1.5, backward: 2.25, recompute: 0.5, optimizer: 0.75 }, source: 'wall-clock' },
    loss: [1.5, 1.25],
    skippedSteps: 0,
    timeline,
    aliveAtEnd: [],
    work: stepWork(config),
  };
}

/** Parses the trace file text and checks every event has the fields its type requires. */
function checkTraceShape(text: string): Trace {
  const trace = JSON.parse(text) as Trace;
  expect(trace.displayTimeUnit).toBe('ms');
  expect(Array.isArray(trace.traceEvents)).toBe(true);
  for (const e of trace.traceEvents as unknown as Record<string, unknown>[]) {
    const what = JSON.stringify(e);
    expect(['M', 'C', 'X'], what).toContain(e.ph);
    expect(typeof e.name, what).toBe('string');
    expect(e.pid, what).toBe(TRACE_PID);
    expect(Number.isInteger(e.tid), what).toBe(true);
    expect(typeof e.ts === 'number' && Number.isFinite(e.ts) && e.ts >= 0, what).toBe(true);
    expect(typeof e.args === 'object' && e.args !== null, what).toBe(true);
    if (e.ph === 'C') {
      // Counter args are the series: numbers only.
      for (const v of Object.values(e.args as object)) expect(typeof v === 'number' && Number.isFinite(v), what).toBe(true);
    }
    if (e.ph === 'X') expect(typeof e.dur === 'number' && Number.isFinite(e.dur) && e.dur >= 0, what).toBe(true);
  }
  return trace;
}

const counters = (t: Trace) => t.traceEvents.filter((e) => e.ph === 'C');
const phaseSlices = (t: Trace) => t.traceEvents.filter((e) => e.ph === 'X' && e.tid === TRACE_TIDS.phases);
const opSlices = (t: Trace) => t.traceEvents.filter((e) => e.ph === 'X' && e.tid === TRACE_TIDS.memory);

/** Sum of counter values per timestamp, in time order. */
function counterTotals(t: Trace): number[] {
  const byTs = new Map<number, number>();
  for (const e of counters(t)) if (e.ph === 'C') byTs.set(e.ts, (byTs.get(e.ts) ?? 0) + e.args.bytes);
  return [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

function phaseUs(t: Trace): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of phaseSlices(t)) if (e.ph === 'X') out[e.name] = (out[e.name] ?? 0) + e.dur;
  return out;
}

describe('reportToJson', () => {
  it('is pretty JSON with a vramlab header (version, schema, time) and the report unchanged', () => {
    const report = makeReport();
    const now = new Date('2026-11-22T20:49:50.123Z');
    const text = reportToJson(report, now);
    expect(text).toMatch(/^\{\n {2}"vramlab": \{\n/);
    const doc = JSON.parse(text);
    expect(doc.vramlab).toEqual({ version: VRAMLAB_VERSION, schema: REPORT_SCHEMA, generatedAt: '2026-11-22T20:49:50.123Z' });
    expect(VRAMLAB_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.report).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('writes a diverged (non-finite) loss as null rather than failing', () => {
    const doc = JSON.parse(reportToJson({ ...makeReport(), loss: [1, Number.NaN, Number.POSITIVE_INFINITY] }));
    expect(doc.report.loss).toEqual([1, null, null]);
  });
});

describe('reportToTrace', () => {
  const report = makeReport();
  const trace = checkTraceShape(traceToJson(reportToTrace(report)));

  it('names the process and its threads with metadata events', () => {
    const names = trace.traceEvents.filter((e) => e.ph === 'M' && (e.name === 'process_name' || e.name === 'thread_name'));
    expect(names.map((e) => [e.name, e.tid, (e.args as Record<string, unknown>).name])).toEqual([
      ['process_name', 0, 'vramlab'],
      ['thread_name', TRACE_TIDS.memory, 'memory'],
      ['thread_name', TRACE_TIDS.phases, 'phases'],
    ]);
  });

  it('has one counter track per category that holds bytes, one sample per ledger event, named by the category label', () => {
    const used = PLAN_CATEGORIES.filter((c) => report.timeline.some((p) => p.bytes[c] > 0));
    const tracks = new Set(counters(trace).map((e) => e.name));
    expect([...tracks].sort()).toEqual(used.map((c) => CATEGORY_LABELS[c]).sort());
    for (const name of tracks) expect(counters(trace).filter((e) => e.name === name)).toHaveLength(report.timeline.length);
  });

  it('counters are non-negative and sum, at each ledger event, to the timeline total', () => {
    for (const e of counters(trace)) if (e.ph === 'C') expect(e.args.bytes).toBeGreaterThanOrEqual(0);
    expect(counterTotals(trace)).toEqual(report.timeline.map((p) => total(p.bytes)));
  });

  it('phase slices add up to the measured phasesMs, split where a phase is interleaved', () => {
    const us = phaseUs(trace);
    for (const p of PHASE_NAMES) expect(us[p] ?? 0, p).toBeCloseTo(report.timing.phasesMs[p] * 1000, 6);
    // backward is interrupted by recompute: two backward slices.
    expect(phaseSlices(trace).map((e) => e.name)).toEqual(['forward', 'backward', 'recompute', 'backward', 'optimizer']);
  });

  it('lays the step out in order: op slices tile the time line with their labels, and phases do not overlap', () => {
    const ops = opSlices(trace);
    expect(ops.map((e) => e.name)).toEqual(LABELS.map((l) => l || '(unlabelled)'));
    let end = 0;
    for (const e of ops) {
      if (e.ph !== 'X') continue;
      expect(e.ts).toBeCloseTo(end, 9);
      end = e.ts + e.dur;
    }
    const phases = phaseSlices(trace);
    for (let i = 1; i < phases.length; i++) {
      const [a, b] = [phases[i - 1]!, phases[i]!];
      if (a.ph === 'X' && b.ph === 'X') expect(b.ts).toBeGreaterThanOrEqual(a.ts + a.dur - 1e-9);
    }
  });

  it('a phase timed at 0 ms gets synthetic 1 µs slots, and a timed phase without ledger events still shows', () => {
    const r = makeReport({ phasesMs: { forward: 0, backward: 2, recompute: 0, optimizer: 0.5 } });
    const t = reportToTrace(r);
    const us = phaseUs(t);
    expect(us.forward).toBe(3); // three forward ledger events × 1 µs
    expect(us.backward).toBeCloseTo(2000, 6);

    const noOptimizerEvents = makeReport({ timeline: makeReport().timeline.filter((p) => p.label !== 'optimizer') });
    expect(phaseUs(reportToTrace(noOptimizerEvents)).optimizer).toBeCloseTo(750, 6);
  });

  it('an empty timeline gives metadata and measured phases only', () => {
    const t = checkTraceShape(traceToJson(reportToTrace(makeReport({ timeline: [] }))));
    expect(counters(t)).toHaveLength(0);
    expect(opSlices(t)).toHaveLength(0);
    expect(Object.keys(phaseUs(t)).sort()).toEqual(['backward', 'forward', 'optimizer', 'recompute']);
  });

  it('holds for any timeline and timing (property)', () => {
    const cat = fc.nat({ max: 2 ** 40 });
    const point = fc.record({
      label: fc.constantFrom('', 'forward block 0', 'loss', 'backward block 1', 'recompute block 0', 'optimizer'),
      bytes: fc.record(Object.fromEntries(PLAN_CATEGORIES.map((c) => [c, cat])) as Record<keyof CategoryBytes, fc.Arbitrary<number>>),
    });
    // 0 (not measured) or at least 1 µs, so every slot moves the clock.
    const ms = fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 1e4, noNaN: true }));
    const phaseOfLabel = (l: string) => (l === 'loss' ? 'backward' : l.split(' ')[0]);
    fc.assert(
      fc.property(fc.array(point, { maxLength: 40 }), fc.record({ forward: ms, backward: ms, recompute: ms, optimizer: ms }), (ps, phasesMs) => {
        const r = makeReport({ timeline: points(ps.map((p, op) => ({ op, ...p }))), phasesMs });
        const t = checkTraceShape(traceToJson(reportToTrace(r)));
        const anyBytes = r.timeline.some((p) => total(p.bytes) > 0);
        expect(counterTotals(t)).toEqual(anyBytes ? r.timeline.map((p) => total(p.bytes)) : []);
        const us = phaseUs(t);
        for (const p of PHASE_NAMES) {
          if (phasesMs[p] > 0) expect(us[p] ?? 0, p).toBeCloseTo(phasesMs[p] * 1000, 3);
          else if (!r.timeline.some((x) => phaseOfLabel(x.label) === p)) expect(us[p], p).toBeUndefined();
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('exportFileName', () => {
  it('names the model and the UTC time, with no characters a file system refuses', () => {
    const now = new Date('2026-11-22T20:49:50.123Z');
    expect(exportFileName(makeReport(), 'json', now)).toBe('vramlab-run-mlp-2026-11-22T20-49-50Z.json');
    expect(exportFileName(makeReport(), 'trace', now)).toBe('vramlab-run-mlp-2026-11-22T20-49-50Z.trace.json');
    const odd = makeReport({ config: { model: '../../etc/Pass wd' as 'mlp' } });
    expect(exportFileName(odd, 'json', now)).toBe('vramlab-run-etc-pass-wd-2026-11-22T20-49-50Z.json');
  });
});
