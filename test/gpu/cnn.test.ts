/**
 * The engine's CNNs (cnn-mnist: LeNet-5; cnn-cifar: a CIFAR ResNet, scaled down) on
 * SwiftShader: the framework-vramlab estimate equals the ledger to the byte (and stepWork the
 * engine's counted work) over a grid, the checkpointing modes give the gradients of none, and
 * the loss of the synthetic task falls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import { CnnTrainer } from '../../src/engine/graph/cnn.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder } from '../../src/engine/profiler.ts';
import { runCnnTraining } from '../../src/engine/run.ts';
import { stepWork } from '../../src/estimate/index.ts';
import { DEFAULT_CNN_RUN, type CnnRunConfig } from '../../src/protocol/cnn.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import { maxRelDiff } from '../helpers/grads.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

let opened: OpenedDevice;
const deviceErrors: DeviceErrorReport[] = [];
beforeAll(async () => {
  opened = await openDevice(gpu, { label: 'test.cnn', onError: (r) => deviceErrors.push(r) });
});
afterAll(() => {
  opened?.device.destroy();
  expect(deviceErrors).toEqual([]);
});

/** cnn-mnist at batch 2; cnn-cifar as ResNet-8 of width 4 (the shortcut projections stay). */
const tiny = (model: CnnRunConfig['model'], over: Partial<CnnRunConfig> = {}): CnnRunConfig => ({
  ...DEFAULT_CNN_RUN,
  model,
  batch: 2,
  ...(model === 'cnn-cifar' ? { blocks: 1, width: 4 } : {}),
  steps: 1,
  ...over,
});

describe('CNN: the estimate equals the ledger', () => {
  const grid: CnnRunConfig[] = [];
  for (const model of ['cnn-mnist', 'cnn-cifar'] as const) {
    for (const precision of ['fp32', 'amp-bf16', 'amp-fp16'] as const) {
      for (const checkpoint of ['none', 'full', 'sqrt'] as const) {
        grid.push(tiny(model, { precision, checkpoint, optimizer: precision === 'fp32' ? 'adamw' : 'adam', ...(model === 'cnn-cifar' && checkpoint === 'sqrt' ? { blocks: 2 } : {}) }));
      }
    }
  }
  it.each(grid)('%j: peak and every category, to the byte', async (cfg) => {
    const r = await runCnnTraining(opened, cfg);
    for (const c of PLAN_CATEGORIES) expect(r.actual.bytes[c], c).toBe(r.estimate.bytes[c]);
    expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
    expect(r.actual.aliveAtPeak).toEqual(r.estimate.peak.alive);
    expect(r.actual.liveAfterDisposeBytes).toBe(0);
    expect(r.loss.every(Number.isFinite)).toBe(true);
    // The page predicts a run's time from this count before it starts.
    expect(r.work).toEqual(stepWork(cfg));
  });
});

async function stepOnce(cfg: CnnRunConfig): Promise<{ loss: number; grads: Map<string, Float32Array>; running: Map<string, Float32Array> }> {
  const ledger = new Ledger(opened.device);
  try {
    const t = await CnnTrainer.create(opened.device, ledger, cfg, 1e-3);
    const rec = await StepRecorder.create(opened.device, ledger, t.phaseSegments, false);
    const grads = new Map<string, Float32Array>();
    await t.step(rec, async (gs) => {
      for (const g of gs) grads.set(g.name, await t.readFloats(g.buffer, g.n));
    });
    await rec.finish();
    const loss = await t.readLoss();
    const running = new Map<string, Float32Array>();
    for (const r of t.runningBuffers()) running.set(r.name, await t.readFloats(r.buffer, r.n));
    rec.destroy();
    return { loss, grads, running };
  } finally {
    ledger.dispose();
    expect(ledger.liveBytes).toBe(0);
  }
}

describe('CNN: checkpointing and learning', () => {
  it('full and √n checkpointing give the loss, gradients and running statistics of none (a recompute does not update them again)', async () => {
    const cfg = tiny('cnn-cifar', { blocks: 2, precision: 'fp32' });
    const none = await stepOnce(cfg);
    // 2 × (conv + BN) stem, 6 blocks × 2 × (conv + BN), 2 projections × (conv + BN), fc weight and bias.
    expect(none.grads.size).toBe(2 + 6 * 4 + 2 * 2 + 2);
    const momentum = [...none.running.values()][0]!;
    expect(momentum.some((v, i) => (i < momentum.length / 2 ? v !== 0 : v !== 1))).toBe(true);
    for (const checkpoint of ['full', 'sqrt'] as const) {
      const other = await stepOnce({ ...cfg, checkpoint });
      expect(other.loss).toBe(none.loss);
      expect(maxRelDiff(other.grads, none.grads), checkpoint).toBeLessThan(1e-6);
      expect(maxRelDiff(other.running, none.running), `${checkpoint} running statistics`).toBe(0);
    }
  });

  it.each([
    tiny('cnn-mnist', { batch: 4, steps: 50, lr: 3e-3 }),
    tiny('cnn-cifar', { batch: 2, steps: 50, lr: 1e-2 }),
  ])('$model learns the seeded task: the loss falls at least 2× in 50 steps', async (cfg) => {
    const r = await runCnnTraining(opened, cfg);
    const first = r.loss[0]!;
    const last = r.loss[r.loss.length - 1]!;
    console.log(`${cfg.model}: loss ${first.toFixed(3)} → ${last.toFixed(3)} over ${cfg.steps} steps; ${r.timing.stepMs.toFixed(1)} ms/step; peak ${r.actual.peakBytes} B`);
    expect(first).toBeGreaterThan(1);
    expect(last).toBeLessThan(first / 2);
  }, 300_000);
});
