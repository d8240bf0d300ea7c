/**
 * The Llama-style decoder end to end on the GPU: the framework-vramlab estimate (derived from
 * the model description the trainer allocates from) equals the ledger to the byte, per
 * category, at the peak and op by op, over precision × attention × checkpointing, with
 * grouped-query attention and both LM heads; every checkpointing mode gives the gradients of
 * none; eager and fused agree; a seeded model learns its task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import { LlamaTrainer } from '../../src/engine/graph/llama.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder } from '../../src/engine/profiler.ts';
import { runLlamaTraining } from '../../src/engine/run.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';
import { type LlamaRunConfig } from '../../src/protocol/run.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import { maxRelDiff } from '../helpers/grads.ts';
import { expectTimelineAlignedToOps } from '../helpers/op-timeline.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

let opened: OpenedDevice;
const deviceErrors: DeviceErrorReport[] = [];
beforeAll(async () => {
  opened = await openDevice(gpu, { label: 'test.llama', onError: (r) => deviceErrors.push(r) });
});
afterAll(() => {
  opened?.device.destroy();
  expect(deviceErrors).toEqual([]);
});

/** 4 query heads over 2 kv heads of 4 lanes, SwiGLU width 24, 2 blocks, 2 sequences of 8. */
const tiny = (over: Partial<LlamaRunConfig> = {}): LlamaRunConfig => ({
  model: 'llama',
  vocab: 32,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 4,
  layers: 2,
  inner: 24,
  tied: true,
  qkvBias: false,
  ropeTheta: 10000,
  seq: 8,
  batch: 2,
  attention: 'fused',
  precision: 'fp32',
  optimizer: 'adam',
  checkpoint: 'none',
  steps: 2,
  seed: 1,
  ...over,
});

async function gradsOf(cfg: LlamaRunConfig): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const ledger = new Ledger(opened.device);
  try {
    const t = await LlamaTrainer.create(opened.device, ledger, cfg, 1e-3);
    const rec = await StepRecorder.create(opened.device, ledger, 4 + 2 * cfg.layers, false);
    const grads = new Map<string, Float32Array>();
    await t.step(rec, async (gs) => {
      for (const g of gs) grads.set(g.name, await t.readFloats(g.buffer, g.n));
    });
    await rec.finish();
    const loss = await t.readLoss();
    rec.destroy();
    return { loss, grads };
  } finally {
    ledger.dispose();
    expect(ledger.liveBytes).toBe(0);
  }
}

describe('Llama: the estimate equals the ledger', () => {
  const grid: Partial<LlamaRunConfig>[] = [];
  for (const precision of ['fp32', 'amp-bf16', 'amp-fp16'] as const) {
    for (const attention of ['eager', 'fused'] as const) {
      for (const checkpoint of ['none', 'full', 'selective', 'sqrt'] as const) {
        // Untied heads and qwen2's q/k/v biases on half the grid; √n over 4 blocks (segments of 2).
        const odd = grid.length % 2 === 1;
        grid.push({ precision, attention, checkpoint, layers: checkpoint === 'sqrt' ? 4 : 2, tied: !odd, qkvBias: odd, optimizer: precision === 'fp32' ? 'adamw' : 'adam' });
      }
    }
  }
  it.each(grid)('%j: peak and every category, to the byte, also at every op boundary; the counted work is stepWork', async (over) => {
    const r = await runLlamaTraining(opened, tiny(over));
    expect(r.work).toEqual(stepWork(r.config));
    expectTimelineAlignedToOps(r);
    for (const c of PLAN_CATEGORIES) expect(r.actual.bytes[c], c).toBe(r.estimate.bytes[c]);
    expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
    expect(r.actual.liveAfterDisposeBytes).toBe(0);
    expect(r.loss.every(Number.isFinite)).toBe(true);
  });
});

describe('Llama: gradients', () => {
  it('eager and fused attention give the same loss and gradients', async () => {
    const eager = await gradsOf(tiny({ attention: 'eager' }));
    const fused = await gradsOf(tiny({ attention: 'fused' }));
    expect(Math.abs(eager.loss - fused.loss)).toBeLessThan(1e-5 * Math.abs(eager.loss));
    expect(maxRelDiff(eager.grads, fused.grads)).toBeLessThan(1e-4);
  });

  it('every checkpointing mode gives the gradients of none', async () => {
    const none = await gradsOf(tiny({ attention: 'eager', layers: 4 }));
    for (const checkpoint of ['full', 'selective', 'sqrt'] as const) {
      const other = await gradsOf(tiny({ attention: 'eager', layers: 4, checkpoint }));
      expect(other.loss, checkpoint).toBe(none.loss);
      expect(maxRelDiff(other.grads, none.grads), checkpoint).toBe(0);
    }
  });
});

describe('Llama: learning', () => {
  it('a seeded scaled Llama learns to count: the loss falls at least 2× in 50 steps', async () => {
    const r = await runLlamaTraining(opened, tiny({ steps: 50, tied: false }));
    const first = r.loss[0]!;
    const last = r.loss[r.loss.length - 1]!;
    console.log(`llama learns to count: loss ${first.toFixed(3)} → ${last.toFixed(3)} over 50 steps; ${r.timing.stepMs.toFixed(1)} ms/step`);
    expect(first).toBeGreaterThan(0.8 * Math.log(32));
    expect(last).toBeLessThan(first / 2);
  });
});
