import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import { runGptTraining, runTraining } from '../../src/engine/run.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';
import { PLAN_CATEGORIES, zeroCategories } from '../../src/protocol/plan.ts';
import { DEFAULT_RUN, GPT_NANO_RUN, tensorsAliveAt, type RunReport } from '../../src/protocol/run.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);
let opened: OpenedDevice;
beforeAll(async () => {
  opened = await openDevice(gpu, { label: 'test.run-report' });
});
afterAll(() => opened?.device.destroy());

/** At every point of the measured step, the tensors named alive add up, per category, to the point's bytes. */
function expectTensorsMatchBytes(r: Pick<RunReport, 'timeline' | 'aliveAtEnd'>): void {
  expect(r.timeline.length).toBeGreaterThan(3);
  r.timeline.forEach((p, i) => {
    const sum = zeroCategories();
    for (const t of tensorsAliveAt(r, i)) sum[t.category] += t.bytes;
    expect(sum, `point ${i} (${p.label})`).toEqual(p.bytes);
  });
}

describe('a run report names the tensors alive at each point of the step', () => {
  it('mlp, √n checkpointing, amp-bf16', async () => {
    const r = await runTraining(opened, { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 4, batch: 4, steps: 3, checkpoint: 'sqrt', precision: 'amp-bf16' });
    expectTensorsMatchBytes(r);
    expect(r.timing.stepsMs).toHaveLength(3);
    // The first run on this device: its pipelines are created by the warm-up, before the first step.
    expect(r.timing.warmupPipelines).toBeGreaterThan(0);
    expect(r.timing.warmupMs).toBeGreaterThan(0);
    // Each step's phase times, read a step late, reach the report: √n recomputes.
    if (opened.device.features.has('timestamp-query')) expect(r.timing.source).toBe('timestamp-query');
    expect(r.timing.phasesMs.recompute).toBeGreaterThan(0);
    expect(r.timing.phasesMs.forward).toBeGreaterThan(0);
    // Backward and recompute segments interleave: a submit at each turn.
    expect(r.work).toEqual(stepWork(r.config));
    expect(r.work.submits).toBeGreaterThan(3);
    // The peak point names activations among its tensors.
    const totals = r.timeline.map((p) => PLAN_CATEGORIES.reduce((a, c) => a + p.bytes[c], 0));
    const names = tensorsAliveAt(r, totals.indexOf(Math.max(...totals))).map((t) => t.category);
    expect(names).toContain('activations');
    expect(names).toContain('weights');
  });

  it('gpt-nano, eager attention, selective checkpointing', async () => {
    const r = await runGptTraining(opened, { ...GPT_NANO_RUN, seq: 8, batch: 1, steps: 2, attention: 'eager', checkpoint: 'selective' });
    expectTensorsMatchBytes(r);
    expect(r.timing.stepsMs).toHaveLength(2);
    expect(r.work).toEqual(stepWork(r.config));
  });

  it('a report without the end state is not mistaken for an empty step', () => {
    const bytes = { ...zeroCategories(), weights: 8 };
    const r = {
      aliveAtEnd: [{ name: 'w', category: 'weights' as const, bytes: 8 }],
      timeline: [
        { op: -1, label: '', event: 'create' as const, name: 'w', category: 'weights' as const, tensorBytes: 8, bytes },
        { op: 0, label: 'forward', event: 'create' as const, name: 'a', category: 'activations' as const, tensorBytes: 4, bytes: { ...bytes, activations: 4 } },
        { op: 1, label: 'loss', event: 'destroy' as const, name: 'a', category: 'activations' as const, tensorBytes: 4, bytes },
      ],
    };
    expect(tensorsAliveAt(r, 1).map((t) => t.name)).toEqual(['w', 'a']);
    expect(tensorsAliveAt(r, 2).map((t) => t.name)).toEqual(['w']);
  });
});
