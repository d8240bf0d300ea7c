import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  memorySnapshotPickle,
  phaseOfFrames,
  readMemorySnapshot,
  replaySnapshot,
  runToMemorySnapshot,
  SnapshotError,
} from '../../src/protocol/memory-snapshot.ts';
import { writePickle } from '../../src/protocol/pickle.ts';
import { PLAN_CATEGORIES, zeroCategories, type CategoryBytes, type PlanCategory } from '../../src/protocol/plan.ts';
import type { RunReport, RunTensor } from '../../src/protocol/run.ts';
import { NO_PYTHON, hasPython, python } from '../helpers/python.ts';

type Step = { label: string; event: 'create' | 'destroy'; name: string; category: PlanCategory | null; bytes: number };

/**
 * The part of a report the snapshot reads, from tensors alive before the step and the step's
 * events, with every point's bytes as the ledger would record them (staging left out).
 */
function makeReport(before: RunTensor[], steps: Step[]): Pick<RunReport, 'timeline' | 'aliveAtEnd'> & { peakBytes: number } {
  const alive = new Map(before.map((t) => [t.name, t]));
  const staging = new Set<string>();
  let op = 0;
  let prev = '';
  const timeline: RunReport['timeline'] = steps.map((s) => {
    if (s.label !== prev) op++;
    prev = s.label;
    if (s.category === null) {
      if (s.event === 'create') staging.add(s.name);
      else staging.delete(s.name);
    } else if (s.event === 'create') alive.set(s.name, { name: s.name, category: s.category, bytes: s.bytes });
    else alive.delete(s.name);
    const bytes: CategoryBytes = zeroCategories();
    for (const t of alive.values()) bytes[t.category] += t.bytes;
    return { op, label: s.label, event: s.event, name: s.name, category: s.category, tensorBytes: s.bytes, bytes };
  });
  const total = (b: CategoryBytes) => PLAN_CATEGORIES.reduce((n, c) => n + b[c], 0);
  return { timeline, aliveAtEnd: [...alive.values()], peakBytes: Math.max(...timeline.map((p) => total(p.bytes))) };
}

/** An mlp-like step: weights and Adam states alive throughout, last step's gradients freed, activations made and freed, a staging readback. */
function mlpStep(): ReturnType<typeof makeReport> {
  const before: RunTensor[] = [
    { name: 'w0', category: 'weights', bytes: 4096 },
    { name: 'w1', category: 'weights', bytes: 4096 },
    { name: 'm0', category: 'optimizer', bytes: 4096 },
    { name: 'v0', category: 'optimizer', bytes: 4096 },
    { name: 'x.prev', category: 'inputs', bytes: 1000 },
  ];
  const s = (label: string, event: Step['event'], name: string, category: PlanCategory | null, bytes: number): Step => ({ label, event, name, category, bytes });
  return makeReport(before, [
    s('', 'create', 'x', 'inputs', 1000),
    s('', 'destroy', 'x.prev', 'inputs', 1000),
    s('forward block 0', 'create', 'h0', 'activations', 2050),
    s('forward block 0', 'create', 'a0', 'activations', 2050),
    s('forward block 1', 'create', 'h1', 'activations', 2050),
    s('loss', 'create', 'loss.staging', null, 4),
    s('loss', 'create', 'dh1', 'activationGrads', 2050),
    s('backward block 1', 'create', 'g1', 'gradients', 4096),
    s('backward block 1', 'destroy', 'h1', 'activations', 2050),
    s('recompute block 0', 'create', 'h0.re', 'activations', 2050),
    s('backward block 0', 'create', 'g0', 'gradients', 4096),
    s('backward block 0', 'destroy', 'h0.re', 'activations', 2050),
    s('backward block 0', 'destroy', 'dh1', 'activationGrads', 2050),
    s('backward block 0', 'destroy', 'h0', 'activations', 2050),
    s('backward block 0', 'destroy', 'a0', 'activations', 2050),
    s('optimizer', 'create', 'tmp', 'workspace', 512),
    s('optimizer', 'destroy', 'tmp', 'workspace', 512),
    s('optimizer', 'destroy', 'loss.staging', null, 4),
  ]);
}

/** memory_viz's replay in Python, reading the file with Python's own pickle. */
const PY_REPLAY = `
import pickle, sys, json
s = pickle.load(sys.stdin.buffer)
assert set(s) >= {'segments', 'device_traces'}, s.keys()
t = s['device_traces'][0]
live = {}
init = 0
counts = {}
for e in t:
    counts[e['action']] = counts.get(e['action'], 0) + 1
    assert all(set(f) == {'filename', 'line', 'name'} for f in e['frames']), e
    if e['action'] == 'alloc':
        live[e['addr']] = e['size']
    elif e['action'] == 'free_completed':
        if e['addr'] in live:
            del live[e['addr']]
        else:
            init += e['size']
blocks_ok = True
for seg in s['segments']:
    assert seg['device'] == 0 and seg['segment_type'] in ('small', 'large')
    assert seg['blocks'][0]['address'] == seg['address'] and sum(b['size'] for b in seg['blocks']) == seg['total_size']
    for b in seg['blocks']:
        if b['state'] == 'active_allocated' and b['address'] not in live:
            init += b['requested_size']
end_live = sorted(live)
seg_active = sorted(b['address'] for seg in s['segments'] for b in seg['blocks'] if b['state'] == 'active_allocated')
cur = init
peak = None
for e in t:
    if e['action'] == 'alloc':
        cur += e['size']
    elif e['action'] == 'free_completed':
        cur -= e['size']
    else:
        continue
    peak = cur if peak is None else max(peak, cur)
names = [e['frames'][0]['name'] for e in t if e['action'] == 'alloc']
print(json.dumps({'counts': counts, 'peak': peak, 'init': init, 'endAllocatedInTraceAreSegments': set(end_live) <= set(seg_active), 'allocNames': names, 'sizes': [e['size'] for e in t if e['action'] == 'alloc'], 'frames': t[2]['frames'] if len(t) > 2 else None}))
`;

describe('runToMemorySnapshot', () => {
  it('writes a segment and block per buffer, an alloc and a completed free per ledger event, frames naming tensor, category, op and phase', () => {
    const r = mlpStep();
    const snap = runToMemorySnapshot(r);
    const trace = snap.device_traces[0]!;
    const events = r.timeline.filter((p) => p.category !== null);
    expect(trace.filter((e) => e.action === 'alloc').length).toBe(events.filter((p) => p.event === 'create').length);
    expect(trace.filter((e) => e.action === 'free_completed').length).toBe(events.filter((p) => p.event === 'destroy').length);
    expect(trace.filter((e) => e.action === 'segment_alloc').length).toBe(trace.filter((e) => e.action === 'alloc').length);
    const alloc = trace.find((e) => e.action === 'alloc' && e.frames[0]!.name === 'h0.re')!;
    expect(alloc.size).toBe(2050);
    expect(trace.find((e) => e.action === 'segment_alloc' && e.addr === alloc.addr)!.size).toBe(2052);
    expect(alloc.frames.map((f) => f.name)).toEqual(['h0.re', 'activations', 'recompute block 0', 'recompute']);
    // Alive at the end: the weights, states, the new input and the gradients; staging is not there.
    expect(snap.segments.map((s) => s.blocks[0]!.frames[0]!.name).sort()).toEqual(['g0', 'g1', 'm0', 'v0', 'w0', 'w1', 'x'].sort());
    expect(new Set(snap.segments.map((s) => s.address)).size).toBe(snap.segments.length);
  });

  it('replays (our reader) to the ledger peak, with the phases of its events', () => {
    const r = mlpStep();
    const replay = replaySnapshot(readMemorySnapshot(memorySnapshotPickle(r)));
    expect(replay.peakBytes).toBe(r.peakBytes);
    expect(replay.allocs).toBe(9);
    expect(replay.frees).toBe(7);
    // Before the step: weights, states and the last input.
    expect(replay.initialBytes).toBe(4 * 4096 + 1000);
    // The peak is in backward, where recompute runs.
    expect(replay.peakPhase).toBe('backward');
    expect(replay.phasePeakBytes.optimizer).toBe(replay.endBytes + 512);
    expect(replay.endBytes).toBe(r.aliveAtEnd.reduce((n, t) => n + t.bytes, 0));
  });

  it('for any step, the replay peak is the ledger peak and every event has its alloc or free', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.constantFrom(...names), bytes: fc.integer({ min: 1, max: 1 << 22 }), phase: fc.constantFrom('forward block 0', 'loss', 'backward block 0', 'optimizer') }), { minLength: 1, maxLength: 40 }),
        fc.subarray(names),
        (ops, initiallyAlive) => {
          const alive = new Set(initiallyAlive);
          const before = initiallyAlive.map((n) => ({ name: n, category: 'weights' as const, bytes: 100 }));
          const steps: Step[] = ops.map((o) => {
            const event = alive.has(o.name) ? 'destroy' : 'create';
            if (event === 'create') alive.add(o.name);
            else alive.delete(o.name);
            return { label: o.phase, event, name: o.name, category: 'activations', bytes: o.bytes };
          });
          // A destroy's size is the tensor's own.
          const size = new Map(before.map((t) => [t.name, t.bytes]));
          for (const s of steps) {
            if (s.event === 'create') size.set(s.name, s.bytes);
            else s.bytes = size.get(s.name)!;
          }
          const r = makeReport(before, steps);
          const replay = replaySnapshot(readMemorySnapshot(memorySnapshotPickle(r)));
          expect(replay.peakBytes).toBe(r.peakBytes);
          expect(replay.allocs + replay.frees).toBe(steps.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it.skipIf(!hasPython)("is read by Python's pickle: events and sizes as the ledger's, memory_viz's replay peak equal to the ledger's", () => {
    const r = mlpStep();
    const out = JSON.parse(python(PY_REPLAY, memorySnapshotPickle(r))) as { counts: Record<string, number>; peak: number; init: number; endAllocatedInTraceAreSegments: boolean; allocNames: string[]; sizes: number[]; frames: unknown };
    const created = r.timeline.filter((p) => p.category !== null && p.event === 'create');
    expect(out.counts).toEqual({ segment_alloc: 9, alloc: 9, free_requested: 7, free_completed: 7, segment_free: 7 });
    expect(out.allocNames).toEqual(created.map((p) => p.name));
    expect(out.sizes).toEqual(created.map((p) => p.tensorBytes));
    expect(out.peak).toBe(r.peakBytes);
    expect(out.init).toBe(4 * 4096 + 1000);
    expect(out.endAllocatedInTraceAreSegments).toBe(true);
  });
  // Said once in the output when the cross-checks above cannot run.
  if (!hasPython) it.skip(NO_PYTHON, () => {});
});

describe('phaseOfFrames', () => {
  const f = (filename: string, name: string) => ({ filename, line: 1, name });
  it("reads PyTorch's frames: torch/optim, autograd or *Backward, a module's forward; nothing said is null", () => {
    expect(phaseOfFrames([f('/x/torch/optim/adam.py', '_single_tensor_adam'), f('train.py', '<module>')])).toBe('optimizer');
    expect(phaseOfFrames([f('/x/torch/autograd/__init__.py', 'backward'), f('train.py', '<module>')])).toBe('backward');
    expect(phaseOfFrames([f('??', 'torch::autograd::generated::MmBackward0::apply')])).toBe('backward');
    // Recompute under checkpointing runs a forward inside backward: backward.
    expect(phaseOfFrames([f('/x/torch/nn/modules/linear.py', 'forward'), f('/x/torch/autograd/function.py', 'apply'), f('/x/torch/autograd/graph.py', '_engine_run_backward')])).toBe('backward');
    expect(phaseOfFrames([f('/x/torch/nn/modules/linear.py', 'forward'), f('/x/torch/nn/modules/module.py', '_call_impl')])).toBe('forward');
    expect(phaseOfFrames([f('train.py', '<module>')])).toBeNull();
    expect(phaseOfFrames([])).toBeNull();
    expect(phaseOfFrames(undefined)).toBeNull();
  });
});

describe('a PyTorch snapshot (test/fixtures/torch-mlp-step.pickle)', () => {
  const bytes = new Uint8Array(readFileSync(new URL('../fixtures/torch-mlp-step.pickle', import.meta.url)));
  const expected = JSON.parse(readFileSync(new URL('../fixtures/torch-mlp-step.expected.json', import.meta.url), 'utf8')) as {
    peakBytes: number;
    initialBytes: number;
    allocs: number;
    frees: number;
    events: number;
    phasePeakBytes: Record<'forward' | 'backward' | 'optimizer', number>;
  };

  it('is pickle protocol 4 with frames and memo, as Python writes it', () => {
    expect([...bytes.subarray(0, 3)]).toEqual([0x80, 4, 0x95]);
  });

  it('replays to the peak, counts and per-phase peaks its writer recorded', () => {
    const replay = replaySnapshot(readMemorySnapshot(bytes));
    expect(replay.peakBytes).toBe(expected.peakBytes);
    expect(replay.initialBytes).toBe(expected.initialBytes);
    expect(replay.allocs).toBe(expected.allocs);
    expect(replay.frees).toBe(expected.frees);
    expect(replay.events).toBe(expected.events);
    expect({ forward: replay.phasePeakBytes.forward, backward: replay.phasePeakBytes.backward, optimizer: replay.phasePeakBytes.optimizer }).toEqual(expected.phasePeakBytes);
    expect(replay.peakPhase).toBe('optimizer');
    expect(replay.curve.length).toBe(expected.allocs + expected.frees);
    expect(Math.max(...replay.curve.map((p) => p.bytes))).toBe(expected.peakBytes);
  });

  it('thins the curve to the points asked for, keeping the peak', () => {
    const replay = replaySnapshot(readMemorySnapshot(bytes), { maxPoints: 10 });
    expect(replay.curve.length).toBeLessThanOrEqual(10);
    expect(Math.max(...replay.curve.map((p) => p.bytes))).toBe(expected.peakBytes);
  });
});

describe('readMemorySnapshot / replaySnapshot refuse, with one line', () => {
  const refuse = (f: () => unknown, re: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  };
  it('a pickle that is not a snapshot, a truncated one, a bad trace entry', () => {
    refuse(() => readMemorySnapshot(writePickle([1, 2])), /needs a dict with the lists segments and device_traces/);
    refuse(() => readMemorySnapshot(writePickle({ segments: [] })), /device_traces/);
    const good = memorySnapshotPickle(mlpStep());
    refuse(() => readMemorySnapshot(good.subarray(0, good.length - 5)), /ends early.*_dump_snapshot/);
    refuse(() => replaySnapshot(readMemorySnapshot(writePickle({ segments: [], device_traces: [[{ action: 'alloc', addr: 'x', size: 4 }]] }))), /lacks a numeric addr or size/);
    refuse(() => replaySnapshot(readMemorySnapshot(writePickle({ segments: [], device_traces: [[]] }))), /no trace and no segment/);
    refuse(() => replaySnapshot(readMemorySnapshot(writePickle({ segments: [], device_traces: [[]] })), { device: 3 }), /no device 3/);
  });
});
