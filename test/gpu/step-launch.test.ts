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
import { MlpTrainer } from '../../src/engine/graph/mlp.ts';
import { cachedPipeline, collectPipelines, pipelinesCreated, type KernelCache } from '../../src/engine/kernels/storage.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder } from '../../src/engine/profiler.ts';
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

// First in the file: its pipelines are the ones the launch tests below use, so it compiles no extra one.
describe('the warm-up before the first step', () => {
  it('creates every pipeline of the step asynchronously and records nothing: the first step then compiles none, and its ledger is as without it', async () => {
    const ledger = new Ledger(opened.device, { pool: true });
    try {
      const trainer = await MlpTrainer.create(opened.device, ledger, mlp);
      const rec = await StepRecorder.create(opened.device, ledger, 4 + 2 * mlp.layers);
      const before = { events: ledger.eventCount, entries: ledger.entries(), live: ledger.liveBytes, physical: ledger.physicalBytes, counts: ledger.bufferCounts };
      const created0 = pipelinesCreated(opened.device);
      const warmed = await trainer.warmUp('async');
      expect(warmed).toBeGreaterThan(0);
      expect(pipelinesCreated(opened.device)).toEqual({ sync: created0.sync, async: created0.async + warmed });
      expect({ events: ledger.eventCount, entries: ledger.entries(), live: ledger.liveBytes, physical: ledger.physicalBytes, counts: ledger.bufferCounts }).toEqual(before);
      // A second warm-up finds them all cached.
      expect(await trainer.warmUp('async')).toBe(0);
      await trainer.step(rec);
      await rec.finish();
      expect(pipelinesCreated(opened.device).sync).toBe(created0.sync);
      // The first step is step 1 (its hyper-parameters, the loss ring slot) and its work is the predicted one.
      expect(rec.takeWork()).toEqual(stepWork(mlp));
      expect(Number.isFinite(await trainer.readLoss())).toBe(true);
      rec.destroy();
    } finally {
      ledger.dispose();
    }
  });

  it.each(['async', 'sync'] as const)('a pipeline that does not compile (%s) fails the warm-up with PipelineFailed naming the kernel', async (how) => {
    const caches = new WeakMap<GPUDevice, KernelCache>();
    const spec = { family: 'Broken', code: '@compute @workgroup_size(1) fn main() {}', entryPoint: 'absent', constants: {} };
    const warm = collectPipelines(opened.device, () => {
      cachedPipeline(caches, opened.device, spec);
      return Promise.resolve();
    }, how);
    await expect(warm).rejects.toMatchObject({ name: 'PipelineFailed', message: expect.stringMatching(/^Broken: the GPU could not compile the pipeline Broken\.pipeline\[absent\] \((validation|internal)\): \S/) });
    const err = (await warm.catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain('\n');
  });
});

describe('a step’s launches', () => {
  it('mlp, 4 blocks, pooled: at most 34 dispatches (one optimizer update for 16 tensors) in one compute pass per phase segment, no clears, one readback', async () => {
    const r = await runTraining(opened, mlp);
    expect(r.work.dispatches).toBeLessThanOrEqual(34);
    // forward; the loss; each block's backward; the optimizer.
    expect(r.work.computePasses).toBe(1 + 1 + 4 + 1);
    expect(r.work.clears).toBeLessThanOrEqual(4);
    expect(r.work.readbacks).toBe(1);
    // forward; backward (the loss and every block's); the optimizer with the loss copy.
    expect(r.work.submits).toBe(3);
    expect(r.work).toEqual(stepWork(r.config));
    expect(r.loss).toHaveLength(3);
    // Warmed before the first step by a test above: nothing left to create.
    expect(r.timing.warmupPipelines).toBe(0);
    expect(r.timing.warmupMs).toBeGreaterThanOrEqual(0);
  });

  it('wall-clock timing (a submit per phase segment) counts the same passes', async () => {
    const r = await runTraining(opened, { ...mlp, checkpoint: 'sqrt', steps: 2 }, { wallClock: true });
    expect(r.timing.source).toBe('wall-clock');
    // forward; then per block from the last, under √n: backward, recompute (a dropped block's segment), backward…; the optimizer.
    expect(r.work.submits).toBeGreaterThan(3);
    expect(r.work).toEqual(stepWork(r.config));
    expect(r.timing.phasesMs.recompute).toBeGreaterThan(0);
  });

  it('gpt-nano: at most 77 dispatches in one compute pass per phase segment, no clears, one readback', async () => {
    const r = await runGptTraining(opened, nano);
    expect(r.work.dispatches).toBeLessThanOrEqual(77);
    // forward; the loss and head; each block's backward; the embeddings'; the optimizer.
    expect(r.work.computePasses).toBe(1 + 1 + 2 + 1 + 1);
    expect(r.work.clears).toBeLessThanOrEqual(4);
    expect(r.work.readbacks).toBe(1);
    expect(r.work.submits).toBe(3);
    expect(r.work).toEqual(stepWork(r.config));
    // Its pipelines were all created by the warm-up (Node: one by one), none in a step.
    expect(r.timing.warmupPipelines).toBeGreaterThan(0);
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
