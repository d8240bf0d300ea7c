/**
 * What a training step launches: its dispatches, compute passes, clears and readbacks as the
 * run report counts them, within the budgets of the fused optimizer (one dispatch over every
 * parameter), and the per-tensor launch kept to compare giving the same losses. Small shapes:
 * the counts do not depend on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import { compareLaunches, openTrainingSteps, runGptTraining, runTraining } from '../../src/engine/run.ts';
import { processCpuMs } from '../../src/cli/bench.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';
import { DEFAULT_RUN, GPT_NANO_RUN } from '../../src/protocol/run.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);
let opened: OpenedDevice;
beforeAll(async () => {
  opened = await openDevice(gpu, { label: 'test.step-launch' });
});
afterAll(() => opened?.device.destroy());

const mlp = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 4, batch: 4, steps: 3 };
const nano = { ...GPT_NANO_RUN, seq: 8, batch: 1, steps: 2 };

describe('a step’s launches', () => {
  it('mlp, 4 blocks, pooled: at most 34 dispatches (one optimizer update for 16 tensors) in one compute pass per phase segment, no clears, one readback', async () => {
    const r = await runTraining(opened, mlp);
    expect(r.work.dispatches).toBeLessThanOrEqual(34);
    // forward; the loss; each block's backward; the optimizer.
    expect(r.work.computePasses).toBe(1 + 1 + 4 + 1);
    expect(r.work.clears).toBeLessThanOrEqual(4);
    expect(r.work.readbacks).toBe(1);
    expect(r.work).toEqual(stepWork(r.config));
    expect(r.loss).toHaveLength(3);
  });

  it('wall-clock timing (a submit per phase segment) counts the same passes', async () => {
    const r = await runTraining(opened, { ...mlp, checkpoint: 'sqrt', steps: 2 }, { wallClock: true });
    expect(r.timing.source).toBe('wall-clock');
    expect(r.work).toEqual(stepWork(r.config));
  });

  it('gpt-nano: at most 77 dispatches in one compute pass per phase segment, no clears, one readback', async () => {
    const r = await runGptTraining(opened, nano);
    expect(r.work.dispatches).toBeLessThanOrEqual(77);
    // forward; the loss and head; each block's backward; the embeddings'; the optimizer.
    expect(r.work.computePasses).toBe(1 + 1 + 2 + 1 + 1);
    expect(r.work.clears).toBeLessThanOrEqual(4);
    expect(r.work.readbacks).toBe(1);
    expect(r.work).toEqual(stepWork(r.config));
  });

  it.each(['fp32', 'amp-fp16', 'amp-bf16'] as const)('mlp %s: the per-tensor launch gives the same losses with a dispatch per tensor', async (precision) => {
    const cfg = { ...mlp, precision, optimizer: 'adamw' as const };
    const fused = await runTraining(opened, cfg);
    const perTensor = await runTraining(opened, cfg, { optimizerLaunch: 'per-tensor' });
    expect(perTensor.loss).toEqual(fused.loss);
    expect(perTensor.work).toEqual(stepWork(perTensor.config, 'per-tensor'));
    // 16 updates, (amp) 8 casts, (fp16) 16 checks, against 1 update and (fp16) 1 check.
    const extra = 15 + (precision === 'fp32' ? 0 : 8) + (precision === 'amp-fp16' ? 15 : 0);
    expect(perTensor.work.dispatches - fused.work.dispatches).toBe(extra);
    expect(perTensor.work.totalFlops).toBe(fused.work.totalFlops);
  });

  it('openTrainingSteps (bench): step by step, the losses, launches and memory of a run of the same config', async () => {
    const run = await runTraining(opened, mlp);
    const steps = await openTrainingSteps(opened, mlp);
    const losses: number[] = [];
    let m;
    try {
      for (let i = 0; i < mlp.steps; i++) {
        if (i === 1) steps.restart();
        losses.push(await steps.step());
      }
      m = steps.measure();
    } finally {
      steps.dispose();
    }
    expect(losses).toEqual(run.loss);
    expect(m.loss).toBe(losses.at(-1));
    expect(m.work).toEqual(run.work);
    expect(m.peakBytes).toBe(run.actual.peakBytes);
    // The run also reads its skipped-step count after the steps: 4 words of staging more.
    expect(run.actual.physicalPeakBytes - m.physicalPeakBytes).toBe(16);
    expect(m.recordMs).toBeGreaterThan(0);
  });

  it('bench --ab: the two launches alternate on one device, each timed step measured, same losses, their own counts', async () => {
    const order: string[] = [];
    const [a, b] = await compareLaunches(opened, { ...mlp, precision: 'amp-bf16' }, {
      launches: ['per-tensor', 'fused'],
      iters: 2,
      warmup: 1,
      cpuMs: () => {
        order.push('t');
        return processCpuMs();
      },
    });
    expect(a.cpuMs).toHaveLength(2);
    expect(b.wallMs).toHaveLength(2);
    expect([...a.cpuMs, ...b.cpuMs].every((x) => x >= 0)).toBe(true);
    expect(order).toHaveLength(2 * 2 * 3);
    expect(b.loss).toBe(a.loss);
    expect(a.work.dispatches - b.work.dispatches).toBe(15 + 8);
    expect(b.work).toEqual(stepWork({ ...mlp, precision: 'amp-bf16' }));
  });
});
