/**
 * LoRA and QLoRA on the engine's Llama (graph/llama.ts with graph/lora.ts): the
 * framework-vramlab estimate, read from the same model description, equals the ledger per
 * category, at the peak and op by op (fp32 / amp-bf16 × checkpoint none / full / √n /
 * selective × LoRA / QLoRA, eager and fused, tied and untied heads, qwen2's bias); the
 * adapters' gradients against finite differences of the loss; the loss falls; the frozen base
 * is bit-identical after training; what LoRA saves against full fine-tuning and what it does not.
 * Shapes are tiny and the runs few: 2-step runs, each covering several settings at once.
 */
import { describe, expect, it } from 'vitest';
import { LlamaTrainer } from '../../src/engine/graph/llama.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { runLlamaTraining } from '../../src/engine/run.ts';
import { nf4AbsmaxBytes, nf4CodeBytes } from '../../src/estimate/vramlab.ts';
import { type LlamaRunConfig, type LlamaRunReport } from '../../src/protocol/run.ts';
import { isLoraTensor } from '../../src/protocol/ledger.ts';
import { expectEstimateIsLedger } from '../helpers/op-timeline.ts';
import type { GradInspector } from '../../src/engine/graph/trainer.ts';
import { useTrainerDevice, withLedger, stepLoss, expectGradsMatchDifferences } from './fixture.ts';
import { tinyLlama } from '../helpers/llama.ts';

const dev = useTrainerDevice('test.llama-lora');

/** The tests' Llama with LoRA rank 4. */
const tiny = (over: Partial<LlamaRunConfig> = {}): LlamaRunConfig => tinyLlama({ loraRank: 4, ...over });

describe('Llama LoRA and QLoRA: the estimate equals the ledger', () => {
  const grid: Partial<LlamaRunConfig>[] = [
    { precision: 'fp32', attention: 'fused', checkpoint: 'none', tied: false, qkvBias: true, optimizer: 'adamw' },
    { precision: 'fp32', attention: 'eager', checkpoint: 'full', qlora: true },
    { precision: 'amp-bf16', attention: 'fused', checkpoint: 'full', tied: false, qkvBias: true },
    { precision: 'amp-bf16', attention: 'eager', checkpoint: 'none', qlora: true, loraRank: 3 },
    // √n over 4 blocks (segments of 2: a recomputed block whose output is used, and a last one that stops early).
    { precision: 'amp-bf16', attention: 'fused', checkpoint: 'sqrt', layers: 4, qlora: true, qkvBias: true },
    { precision: 'fp32', attention: 'eager', checkpoint: 'selective', optimizer: 'sgd-momentum', tied: false },
  ];
  it.each(grid)('%j: peak and every category to the byte, at every op; the counted work is stepWork', async (over) => {
    expectEstimateIsLedger(await runLlamaTraining(dev.opened, tiny(over)));
  });
});

function withTrainer<T>(cfg: LlamaRunConfig, body: (t: LlamaTrainer, ledger: Ledger) => Promise<T>): Promise<T> {
  return withLedger(dev.device, async (ledger) => body(await LlamaTrainer.create(dev.device, ledger, cfg, cfg.lr ?? 1e-3), ledger));
}

function step(t: LlamaTrainer, ledger: Ledger, cfg: LlamaRunConfig, inspect?: GradInspector): Promise<number> {
  return stepLoss(t, ledger, 4 + 2 * cfg.layers, inspect);
}

describe('Llama LoRA: gradients of A and B against finite differences', () => {
  // LoRA with qwen2's (frozen) bias and an untied head; QLoRA over an NF4 base, tied.
  it.each([
    { qlora: false, qkvBias: true, tied: false },
    { qlora: true, qkvBias: false, tied: true },
  ])('%j: the directional derivative of the loss along each adapter matches its gradient', async (over) => {
    // The grid's shapes (its kernels compiled already), one block; alpha 8 over rank 4 (scale 2).
    const cfg = tiny({ layers: 1, loraAlpha: 8, attention: 'eager', ...over });
    await withTrainer(cfg, async (t, ledger) => {
      const adapters = t.params();
      expect(adapters.map((p) => p.name).every((n) => /\.lora_[AB]$/.test(n))).toBe(true);
      expect(adapters).toHaveLength(8);
      // The loss is f32 (≈ 3e-7 apart at 3.5): the difference quotient is good to ≈ 4e-5.
      await expectGradsMatchDifferences(t, (inspect) => step(t, ledger, cfg, inspect), { eps: 5e-3, minGrad: 1.5e-4, relTol: 0.02, absTol: 8e-5 });
    });
  });
});

describe('Llama LoRA: learning, and the frozen base', () => {
  // A random base, not a pretrained one, with its head and gains frozen: the loss can fall only
  // a little below ln(vocab); the test asks for a clear fall and bit-identical frozen tensors.
  it.each([false, true])('qlora %s: the loss falls, the adapters move, the base stays bit-identical', async (qlora) => {
    // LoRA over a packed bf16 base, QLoRA over an NF4 one.
    const cfg = tiny({ layers: 1, steps: 8, lr: 5e-2, qlora, qkvBias: true, precision: 'amp-bf16' });
    await withTrainer(cfg, async (t, ledger) => {
      const frozen = t.frozenTensors();
      // embed, 2 gains, the final norm, the bias and the 4 bases (QLoRA: codes and scales each).
      expect(frozen.length).toBe(5 + (qlora ? 8 : 4));
      expect(frozen.some((f) => isLoraTensor(f.name))).toBe(false);
      const before = await Promise.all(frozen.map((f) => t.readWords(f.buffer, f.bytes / 4)));
      const a0 = await Promise.all(t.params().map((p) => t.readFloats(p.buffer, p.n)));
      const losses: number[] = [];
      for (let s = 0; s < cfg.steps; s++) losses.push(await step(t, ledger, cfg));
      const after = await Promise.all(frozen.map((f) => t.readWords(f.buffer, f.bytes / 4)));
      frozen.forEach((f, i) => expect(Array.from(after[i]!), f.name).toEqual(Array.from(before[i]!)));
      const a1 = await Promise.all(t.params().map((p) => t.readFloats(p.buffer, p.n)));
      expect(a1.every((x, i) => x.some((v, j) => v !== a0[i]![j])), 'every adapter moves').toBe(true);
      console.log(`Llama LoRA${qlora ? ' (QLoRA)' : ''} r4: loss ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)} over ${cfg.steps} steps; ${frozen.length} frozen tensors unchanged`);
      expect(losses.at(-1)!).toBeLessThan(0.97 * losses[0]!);
    });
  });
});

describe('Llama: what LoRA saves and what it does not', () => {
  it('full vs LoRA vs QLoRA, amp-bf16: the base’s gradients, states and masters go, activations stay', async () => {
    const cfg = tiny({ steps: 1, precision: 'amp-bf16', loraRank: undefined });
    const full = await runLlamaTraining(dev.opened, cfg);
    const lora = await runLlamaTraining(dev.opened, { ...cfg, loraRank: 4 });
    const qlora = await runLlamaTraining(dev.opened, { ...cfg, loraRank: 4, qlora: true });
    const { dModel: d, inner: I, layers: L, vocab: V } = cfg;
    const W = (cfg.heads + 2 * cfg.kvHeads) * cfg.headDim;
    const Hq = cfg.heads * cfg.headDim;
    const shapes = [[d, W], [Hq, d], [d, 2 * I], [I, d]] as const;
    const adapters = L * shapes.reduce((a, [i, o]) => a + 4 * (i + o), 0);
    const proj = L * shapes.reduce((a, [i, o]) => a + i * o, 0);
    const params = V * d + L * 2 * d + d + proj;
    for (const r of [full, lora, qlora]) expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
    expect(full.actual.bytes.gradients).toBe(4 * params);
    expect(full.actual.bytes.optimizer).toBe(2 * 4 * params);
    // Saved: only the adapters have gradients (fp32) and Adam's two states; no masters.
    expect(lora.actual.bytes.gradients).toBe(4 * adapters);
    expect(lora.actual.bytes.optimizer).toBe(2 * 4 * adapters);
    expect(lora.actual.bytes.masterWeights).toBe(0);
    // The frozen base: the projections packed 16-bit (LoRA) or NF4 (QLoRA), the rest fp32; the adapters fp32.
    expect(lora.actual.bytes.weights).toBe(4 * (params - proj) + 2 * proj + 4 * adapters);
    const nf4 = L * shapes.reduce((a, [i, o]) => a + nf4CodeBytes(i * o) + nf4AbsmaxBytes(i * o), 0);
    expect(lora.actual.bytes.weights - qlora.actual.bytes.weights).toBe(2 * proj - nf4);
    // Not saved: the activations, a little above full fine-tuning's (LoRA adds s·x·A).
    expect(lora.actual.bytes.activations).toBeGreaterThan(full.actual.bytes.activations);
    expect(lora.actual.bytes.activations / full.actual.bytes.activations).toBeLessThan(1.2);
    expect(qlora.actual.bytes.activations).toBe(lora.actual.bytes.activations);
    const row = (r: LlamaRunReport) => ['weights', 'masterWeights', 'gradients', 'optimizer', 'activations', 'activationGrads'].map((c) => r.actual.bytes[c as keyof typeof r.actual.bytes]).join(' / ');
    console.log(`llama d16 L2 amp-bf16 b2 s8, r4, weights / master / gradients / optimizer / activations / activation-grads, peak:\n  full  ${row(full)}, ${full.actual.peakBytes}\n  LoRA  ${row(lora)}, ${lora.actual.peakBytes}\n  QLoRA ${row(qlora)}, ${qlora.actual.peakBytes}`);
  });
});
