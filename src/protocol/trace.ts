/**
 * A run's last step as a Chrome trace (Trace Event Format, JSON Object Format) that Perfetto
 * (ui.perfetto.dev) and chrome://tracing open: the page's export and `vramlab run --trace`
 * write the same file from here. Pure: no DOM, no GPU.
 *
 * Trace Event Format: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
 */
import { CATEGORY_LABELS, PLAN_CATEGORIES, type CategoryBytes, type PlanCategory } from './plan.ts';
import type { AnyEngineRunReport } from './engine-api.ts';
import { PHASE_NAMES, type PhaseName, phaseOfOpLabel } from './run.ts';

/** The process and threads of the trace: one process, counters and op slices on one thread, phases on another. */
export const TRACE_PID = 1;
export const TRACE_TIDS = { memory: 1, phases: 2 } as const;

/** One Trace Event Format event. `ts` and `dur` are in µs (the format's unit; displayTimeUnit only changes the display). */
export type TraceEvent =
  | { ph: 'M'; name: 'process_name' | 'thread_name' | 'process_sort_index' | 'thread_sort_index'; pid: number; tid: number; ts: 0; args: Record<string, string | number> }
  | { ph: 'C'; name: string; cat: string; pid: number; tid: number; ts: number; args: { bytes: number } }
  | { ph: 'X'; name: string; cat: string; pid: number; tid: number; ts: number; dur: number; args: Record<string, string | number> };

export interface Trace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  /** Free-form metadata the format allows beside the events (shown in Perfetto's trace info). */
  otherData: Record<string, string | number>;
}

/** Where a ledger event sits in the step; 'setup' is anything before the step's first labelled op. */
type TracePhase = PhaseName | 'setup';

/** Slot of a ledger event with no measured phase time behind it ('setup', or a phase timed at 0 ms): 1 µs. */
const SYNTHETIC_SLOT_US = 1;

const totalOf = (b: CategoryBytes): number => PLAN_CATEGORIES.reduce((s, c) => s + b[c], 0);

/**
 * The last step of a run as a Chrome trace:
 *
 * - metadata ('M') naming process "vramlab" and threads "memory" and "phases";
 * - one counter track ('C', name = category label, args.bytes) per memory category that holds
 *   bytes at some point of the step, one sample per ledger event — the live bytes after it;
 * - on "memory", one slice ('X') per ledger event named by its op label, so each counter step
 *   has its cause beside it;
 * - on "phases", slices ('X') for forward, backward, recompute and optimizer whose durations
 *   add up, per phase, to the measured `timing.phasesMs`.
 *
 * Time layout: the ledger records no clock, so each phase's measured duration is shared evenly
 * by that phase's ledger events, in step order; a phase whose events are split (recompute
 * interleaves with backward under checkpointing) gets one slice per contiguous run. Events
 * before the first labelled op, or in a phase measured at 0 ms, get a 1 µs synthetic slot. A
 * phase with measured time and no ledger event (nothing allocated in it) gets a slice at the end.
 */
export function reportToTrace(report: AnyEngineRunReport, generatorVersion: string): Trace {
  const pid = TRACE_PID;
  const { memory, phases } = TRACE_TIDS;
  const events: TraceEvent[] = [
    { ph: 'M', name: 'process_name', pid, tid: 0, ts: 0, args: { name: 'vramlab' } },
    { ph: 'M', name: 'thread_name', pid, tid: memory, ts: 0, args: { name: 'memory' } },
    { ph: 'M', name: 'thread_name', pid, tid: phases, ts: 0, args: { name: 'phases' } },
    { ph: 'M', name: 'thread_sort_index', pid, tid: phases, ts: 0, args: { sort_index: 0 } },
    { ph: 'M', name: 'thread_sort_index', pid, tid: memory, ts: 0, args: { sort_index: 1 } },
  ];

  // Pass 1: each ledger event's phase, and how many events each phase has.
  let previous: TracePhase = 'setup';
  const phaseOfEvent = report.timeline.map((p) => (previous = phaseOfOpLabel(p.label, previous)));
  const count: Record<TracePhase, number> = { setup: 0, forward: 0, backward: 0, recompute: 0, optimizer: 0 };
  for (const ph of phaseOfEvent) count[ph] += 1;
  const measuredUs = (ph: TracePhase): number => (ph === 'setup' ? 0 : Math.max(0, report.timing.phasesMs[ph] * 1000));
  const slotUs = (ph: TracePhase): number => {
    const us = measuredUs(ph);
    return us > 0 && count[ph] > 0 ? us / count[ph] : SYNTHETIC_SLOT_US;
  };

  // Categories worth a track: those that hold bytes at some point of the step.
  const used: PlanCategory[] = PLAN_CATEGORIES.filter((c) => report.timeline.some((p) => p.bytes[c] > 0));

  // Pass 2: slots in step order; counters at each slot's start; phase slices per contiguous run.
  let ts = 0;
  let run: { phase: TracePhase; start: number; events: number } | null = null;
  const closeRun = (end: number): void => {
    if (run && run.phase !== 'setup') {
      events.push({
        ph: 'X',
        name: run.phase,
        cat: 'phase',
        pid,
        tid: phases,
        ts: run.start,
        dur: end - run.start,
        args: { ledgerEvents: run.events, measuredMs: report.timing.phasesMs[run.phase], source: report.timing.source },
      });
    }
  };
  report.timeline.forEach((p, i) => {
    const ph = phaseOfEvent[i]!;
    if (!run || run.phase !== ph) {
      closeRun(ts);
      run = { phase: ph, start: ts, events: 0 };
    }
    run.events += 1;
    for (const c of used) {
      events.push({ ph: 'C', name: CATEGORY_LABELS[c], cat: 'memory', pid, tid: memory, ts, args: { bytes: p.bytes[c] } });
    }
    const dur = slotUs(ph);
    events.push({
      ph: 'X',
      name: p.label || '(unlabelled)',
      cat: 'ledger',
      pid,
      tid: memory,
      ts,
      dur,
      args: { index: i, op: p.op, phase: ph, liveBytes: totalOf(p.bytes) },
    });
    ts += dur;
  });
  closeRun(ts);

  // Measured phases with no ledger event still show their time, after the step.
  for (const ph of PHASE_NAMES) {
    const us = measuredUs(ph);
    if (count[ph] === 0 && us > 0) {
      events.push({
        ph: 'X',
        name: ph,
        cat: 'phase',
        pid,
        tid: phases,
        ts,
        dur: us,
        args: { ledgerEvents: 0, measuredMs: report.timing.phasesMs[ph], source: report.timing.source },
      });
      ts += us;
    }
  }

  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: {
      generator: `vramlab ${generatorVersion}`,
      model: report.estimate.model.name,
      config: JSON.stringify(report.config),
      adapter: report.adapter.description || report.adapter.vendor || 'unknown adapter',
      stepMs: report.timing.stepMs,
      timingSource: report.timing.source,
      measuredPeakBytes: report.actual.peakBytes,
      estimatedPeakBytes: report.estimate.peak.bytes,
      timeLayout: 'each phase\'s measured time shared evenly by its ledger events; 1 µs where none was measured',
    },
  };
}

/** The trace as the text of a .trace.json file. */
export function traceToJson(trace: Trace): string {
  return `${JSON.stringify(trace)}\n`;
}
