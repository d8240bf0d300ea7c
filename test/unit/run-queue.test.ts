/** The queue's time left, paced by how long finished runs took against their prediction. */
import { describe, expect, it } from 'vitest';
import type { ReactiveControllerHost } from 'lit';
import type { EngineRunReport } from '../../src/protocol/engine-api.ts';
import type { LabOwner } from '../../src/ui/lab-runner.ts';
import { RunQueueController, type QueuePoint } from '../../src/ui/run-queue.ts';

const point = (id: string, over: Partial<QueuePoint>): QueuePoint => ({ id, label: id, config: null, status: 'pending', estimate: null, report: null, failure: null, predictedMs: 1000, ...over });

describe('RunQueueController.remainingMs', () => {
  it('counts a finished run’s warm-up with its steps, as its prediction counts the compile', () => {
    const host = { addController: () => undefined } as unknown as ReactiveControllerHost;
    const q = new RunQueueController(host, {} as LabOwner);
    const report = { timing: { warmupMs: 1000, stepsMs: [500, 500] } } as unknown as EngineRunReport;
    // Done in 2000 ms against 1000 predicted: the pending job's 1000 ms are paced to 2000.
    q.points = [point('a', { status: 'done', report }), point('b', {})];
    expect(q.remainingMs).toBeCloseTo(2000, 6);
  });
});
