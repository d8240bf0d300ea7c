/**
 * The TF.js side of `vramlab bench` on Dawn: TF.js's WebGPU backend opens on its own device,
 * steps a matmul and trains the MLP and the GPT one step at a time without leaking tensors,
 * one workload at a time, and leaves nothing behind. Shapes are
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

  it('steps a 32×32 matmul, one workload at a time', async () => {
    const m = await runner.matmul(32);
    try {
      await expect(runner.matmul(32)).rejects.toThrow(/workload is still open: dispose\(\) it/);
      m.restart();
      for (let i = 0; i < 3; i++) expect(await m.step()).toBeUndefined();
      const mem = m.measure();
      // A, B and the product, f32.
      expect(mem.peakInUseBytes).toBeGreaterThanOrEqual(3 * 4 * 32 * 32);
      expect(mem.allocatedBytes).toBeGreaterThanOrEqual(mem.peakInUseBytes);
    } finally {
      m.dispose();
    }
    await expect(m.step()).rejects.toThrow(/disposed/);
    expect(tf.memory().numTensors).toBe(0);
  });

  it.each(['relu', 'gelu'] as const)('mlp (%s) lowers the loss step by step, reproduces it from the seed and leaks no tensor', async (activation) => {
    const cfg = { ...MLP, activation };
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    const five = await runner.mlp(cfg, 7);
    let mem;
    try {
      five.restart();
      for (let i = 0; i < 5; i++) losses.push((await five.step())!);
      mem = five.measure();
    } finally {
      five.dispose();
    }
    const again = await runner.mlp(cfg, 7);
    const first = await again.step().finally(() => again.dispose());
    expect(tf.memory().numTensors).toBe(before);
    for (const l of losses) expect(Number.isFinite(l) && l > 0, String(l)).toBe(true);
    expect(first).toBeCloseTo(losses[0]!, 6);
    expect(losses[4]).toBeLessThan(losses[0]!);
    // Parameters, gradients and Adam's two moments are live together at least once.
    const paramBytes = 4 * MLP.layers * (MLP.d * MLP.hidden + MLP.hidden + MLP.hidden * MLP.d + MLP.d);
    expect(mem.peakInUseBytes).toBeGreaterThanOrEqual(4 * paramBytes);
    expect(mem.allocatedBytes).toBeGreaterThanOrEqual(mem.peakInUseBytes);
  });

  it('gpt starts near ln(vocab) and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const g = await runner.gpt(GPT, 3);
    let loss: number | undefined;
    let mem;
    try {
      g.restart();
      for (let i = 0; i < 2; i++) loss = await g.step();
      mem = g.measure();
    } finally {
      g.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    // Two steps of Adam at 1e-3 from N(0, 0.02)-sized weights barely move the uniform guess.
    expect(Number.isFinite(loss)).toBe(true);
    expect(Math.abs(loss! - Math.log(GPT.vocab)), String(loss)).toBeLessThan(0.15);
    expect(mem.peakInUseBytes).toBeGreaterThan(0);
    expect(mem.allocatedBytes).toBeGreaterThanOrEqual(mem.peakInUseBytes);
  });

  it('dispose() leaves no tensor and closes the runner', async () => {
    await runner.dispose();
    expect(tf.engine().state.numTensors).toBe(0);
    await runner.dispose();
    await expect(runner.matmul(8)).rejects.toThrow(/disposed/);
  });
});
