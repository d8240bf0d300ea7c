import { describe, expect, it } from 'vitest';
import { zeroCategories, type Plan } from '../../src/protocol/plan.ts';
import type { RunReport } from '../../src/protocol/run.ts';
import { alignEstimate } from '../../src/ui/timeline-align.ts';

const point = (label: string, activations: number): RunReport['timeline'][number] => ({
  op: 0,
  label,
  event: 'create',
  name: 't',
  category: 'activations',
  tensorBytes: 0,
  bytes: { ...zeroCategories(), activations },
});
const est = (op: string | undefined, at: 'max' | 'end'): Plan['timeline'][number] => ({ label: op ?? 'x', phase: 'forward', bytes: zeroCategories(), op, at });

describe('the estimate overlay lines up with the ledger op by op', () => {
  // Slots: 0 before the step, 1–3 forward block 0 (peak at 2), 4–5 loss (peak at 4).
  const measured = [point('', 10), point('forward block 0', 20), point('forward block 0', 50), point('forward block 0', 30), point('loss', 60), point('loss', 40)];

  it("puts each op's 'max' at the event where that op peaks and its 'end' after its last event", () => {
    const xs = alignEstimate([est('forward block 0', 'max'), est('forward block 0', 'end'), est('loss', 'max'), est('loss', 'end')], measured);
    expect(xs).toEqual([2.5, 4, 4.5, 6]);
  });

  it('counts the state just before an op as part of it (an op that only frees peaks at its start)', () => {
    const freeing = [point('', 80), point('backward', 50), point('backward', 20)];
    expect(alignEstimate([est('backward', 'max')], freeing)).toEqual([0.5]);
  });

  it('gives up (null: spread evenly) when a point names no measured op, or none at all', () => {
    expect(alignEstimate([est('optimizer', 'end')], measured)).toBeNull();
    expect(alignEstimate([est(undefined, 'end')], measured)).toBeNull();
    expect(alignEstimate([], measured)).toEqual([]);
  });
});
