/**
 * The engine's CNNs (cnn-mnist: LeNet-5; cnn-cifar: a CIFAR ResNet, scaled down) on
 * SwiftShader: the framework-vramlab estimate equals the ledger to the byte (and stepWork the
 * engine's counted work) over a grid, the checkpointing modes give the gradients of none, and
 * the loss of the synthetic task falls.
 */
import { describe, expect, it } from 'vitest';
import { CnnTrainer } from '../../src/engine/graph/cnn.ts';
import { runCnnTraining } from '../../src/engine/run.ts';
import { stepWork } from '../../src/estimate/index.ts';
import { DEFAULT_CNN_RUN, type CnnRunConfig } from '../../src/protocol/cnn.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';
import { maxRelDiff } from '../helpers/grads.ts';
import { useTrainerDevice, withLedger, stepGrads } from './fixture.ts';

const dev = useTrainerDevice('test.cnn');

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
    const r = await runCnnTraining(dev.opened, cfg);
    for (const c of PLAN_CATEGORIES) expect(r.actual.bytes[c], c).toBe(r.estimate.bytes[c]);
    expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
    expect(r.actual.aliveAtPeak).toEqual(r.estimate.peak.alive);
    expect(r.actual.liveAfterDisposeBytes).toBe(0);
    expect(r.loss.every(Number.isFinite)).toBe(true);
    // The page predicts a run's time from this count before it starts.
    expect(r.work).toEqual(stepWork(cfg));
  });
});

function stepOnce(cfg: CnnRunConfig): Promise<{ loss: number; grads: Map<string, Float32Array>; running: Map<string, Float32Array> }> {
  return withLedger(dev.device, async (ledger) => {
    const t = await CnnTrainer.create(dev.device, ledger, cfg, 1e-3);
    const { loss, grads } = await stepGrads(t, ledger, t.phaseSegments);
    const running = new Map<string, Float32Array>();
    for (const r of t.runningBuffers()) running.set(r.name, await t.readFloats(r.buffer, r.n));
    return { loss, grads, running };
  });
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
    const r = await runCnnTraining(dev.opened, cfg);
    const first = r.loss[0]!;
    const last = r.loss[r.loss.length - 1]!;
    console.log(`${cfg.model}: loss ${first.toFixed(3)} → ${last.toFixed(3)} over ${cfg.steps} steps; ${r.timing.stepMs.toFixed(1)} ms/step; peak ${r.actual.peakBytes} B`);
    expect(first).toBeGreaterThan(1);
    expect(last).toBeLessThan(first / 2);
  }, 300_000);
});
