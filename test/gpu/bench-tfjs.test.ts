/**
 * The TF.js side of `vramlab bench` on Dawn: TF.js's WebGPU backend opens on its own device,
 * trains the MLP and the GPT without leaking tensors, and leaves nothing behind. Shapes are
 * tiny: on SwiftShader a TF.js training step costs about 0.3 s of dispatch overhead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { openTfjs, type TfjsRunner } from '../../src/cli/bench-tfjs.ts';

const MLP = { d: 8, hidden: 16, layers: 2, batch: 4 } as const;
const GPT = { vocab: 16, dModel: 16, heads: 2, layers: 1, seq: 8, batch: 2 } as const;

let runner: TfjsRunner;

beforeAll(async () => {
  runner = await openTfjs();
});
afterAll(async () => {
  await runner?.dispose();
});

describe('TF.js on WebGPU (Dawn)', () => {
  it('opens on an adapter and refuses a second runner while one is open', async () => {
    expect(runner.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(runner.adapter).not.toBe('');
    await expect(openTfjs()).rejects.toThrow(/already open/);
  });

  it('times a 32×32 matmul', async () => {
    const r = await runner.matmul(32, { warmup: 1, iters: 3 });
    expect(r.iters).toBe(3);
    expect(Number.isFinite(r.ms) && r.ms > 0, String(r.ms)).toBe(true);
  });

  it.each(['relu', 'gelu'] as const)('mlpStep (%s) lowers the loss, reproduces it from the seed and leaks no tensor', async (activation) => {
    const cfg = { ...MLP, activation };
    const before = tf.memory().numTensors;
    const one = await runner.mlpStep(cfg, { warmup: 0, iters: 1, seed: 7 });
    const again = await runner.mlpStep(cfg, { warmup: 0, iters: 1, seed: 7 });
    const five = await runner.mlpStep(cfg, { warmup: 0, iters: 5, seed: 7 });
    expect(tf.memory().numTensors).toBe(before);
    for (const r of [one, again, five]) {
      expect(Number.isFinite(r.loss) && r.loss > 0, String(r.loss)).toBe(true);
      expect(Number.isFinite(r.ms) && r.ms > 0).toBe(true);
    }
    expect(again.loss).toBeCloseTo(one.loss, 6);
    expect(five.loss).toBeLessThan(one.loss);
    // Parameters, gradients and Adam's two moments are live together at least once.
    const paramBytes = 4 * MLP.layers * (MLP.d * MLP.hidden + MLP.hidden + MLP.hidden * MLP.d + MLP.d);
    expect(five.peakInUseBytes).toBeGreaterThanOrEqual(4 * paramBytes);
    expect(five.allocatedBytes).toBeGreaterThanOrEqual(five.peakInUseBytes);
  });

  it('gptStep starts near ln(vocab) and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const r = await runner.gptStep(GPT, { warmup: 0, iters: 2, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    // Two steps of Adam at 1e-3 from N(0, 0.02)-sized weights barely move the uniform guess.
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Math.abs(r.loss - Math.log(GPT.vocab)), String(r.loss)).toBeLessThan(0.15);
    expect(r.peakInUseBytes).toBeGreaterThan(0);
    expect(r.allocatedBytes).toBeGreaterThanOrEqual(r.peakInUseBytes);
  });

  it('dispose() leaves no tensor and closes the runner', async () => {
    await runner.dispose();
    expect(tf.engine().state.numTensors).toBe(0);
    await runner.dispose();
    await expect(runner.matmul(8, { warmup: 0, iters: 1 })).rejects.toThrow(/disposed/);
  });
});
