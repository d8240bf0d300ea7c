/**
 * The mlp's and the GPT's model descriptions (estimate/vramlab-mlp.ts, vramlab-gpt.ts), which
 * their trainers allocate from and the framework-vramlab estimate reads: their parameters
 * against the planner's own parameter count (params.ts, an independent formula), each trained
 * parameter's gradient made by exactly one unit, every tensor a unit names described, and a
 * block's saved tensors alive together at the end of its forward. The estimate equals the
 * ledger on the GPU (test/gpu/mlp.test.ts, gpt.test.ts, lora.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { describedLayout, frozenTensors, type ModelDescription } from '../../src/estimate/describe.ts';
import { estimate } from '../../src/estimate/index.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import type { MlpSpec, TransformerSpec } from '../../src/estimate/specs.ts';
import { gptDescriptionOf } from '../../src/estimate/vramlab-gpt.ts';
import { mlpDescriptionOf } from '../../src/estimate/vramlab-mlp.ts';
import { nf4AbsmaxBytes, nf4CodeBytes } from '../../src/estimate/vramlab.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';

const plan = (over: Partial<PlanConfig>): PlanConfig => ({ ...DEFAULT_PLAN, mode: 'train', batch: 2, seq: 16, precision: 'fp32', optimizer: 'adam', checkpoint: 'none', framework: 'vramlab', ...over });
const total = (d: ModelDescription, trained: boolean) => d.params.filter((p) => (p.role !== 'frozen') === trained).reduce((a, p) => a + p.n, 0);

/** What every description must hold for a trainer to run it and the schedule to read it. */
function expectConsistent(desc: ModelDescription): void {
  const grads = desc.units.flatMap((u) => u.grads.map((p) => p.name));
  expect(grads.sort()).toEqual(desc.params.filter((p) => p.role !== 'frozen').map((p) => p.name).sort());
  for (const u of desc.units) {
    const named = [...u.saved, ...u.selective, ...u.forwardMoments.flat(), ...u.backwardMoments.flat(), ...(u.lastRecomputeMoments ?? []).flat()];
    for (const n of named) expect(u.tensors[n], `${u.name}: ${n}`).toBeDefined();
    for (const n of u.selective) expect(u.saved).toContain(n);
    // The forward ends with everything it keeps alive at once.
    expect(u.forwardMoments.some((m) => u.saved.every((n) => m.includes(n))), u.name).toBe(true);
  }
  expect(() => describedLayout(desc, { amp: false, optimizer: 'adam' })).not.toThrow();
}

describe('the GPT’s model description', () => {
  const models = ['gpt-nano', 'gpt2-small', 'gpt2-medium'];
  it.each(models)('%s: its parameters are the planner’s parameter count; eager and fused, full and LoRA, are consistent', (id) => {
    for (const attention of ['eager', 'fused'] as const) {
      const cfg = plan({ model: id, attention });
      const desc = gptDescriptionOf(resolveModel(cfg) as TransformerSpec, cfg);
      expect(total(desc, true)).toBe(estimate({ ...cfg, framework: 'pytorch' }).params);
      expectConsistent(desc);
      expectConsistent(gptDescriptionOf(resolveModel(cfg) as TransformerSpec, { ...cfg, loraRank: 4, qlora: true, precision: 'amp-bf16' }));
    }
  });

  it('LoRA: the base is frozen, the adapters are the only trained parameters, r·(in + out) per projection', () => {
    const cfg = plan({ model: 'gpt-nano', loraRank: 8 });
    const s = resolveModel(cfg) as TransformerSpec;
    const full = gptDescriptionOf(s, plan({ model: 'gpt-nano' }));
    const d = s.hidden;
    const I = s.intermediate;
    const perBlock = 8 * (d + 3 * d) + 8 * (d + d) + 8 * (d + I) + 8 * (I + d);
    for (const [precision, qlora] of [['fp32', false], ['amp-bf16', false], ['amp-bf16', true]] as const) {
      const lora = gptDescriptionOf(s, { ...cfg, precision, qlora });
      expect(total(lora, true)).toBe(s.layers * perBlock);
      expect(total(lora, false)).toBe(total(full, true));
      // The projections are stored NF4 under QLoRA, packed 16-bit under amp, fp32 otherwise; the rest fp32.
      const projections = s.layers * (d * 3 * d + d * d + d * I + I * d);
      const stored = lora.params.filter((p) => p.role === 'frozen').reduce((a, p) => a + frozenTensors(p).reduce((b, t) => b + t.bytes, 0), 0);
      const perLayer = [d * 3 * d, d * d, d * I, I * d];
      const projBytes = qlora ? s.layers * perLayer.reduce((a, n) => a + nf4CodeBytes(n) + nf4AbsmaxBytes(n), 0) : precision === 'fp32' ? 4 * projections : 2 * projections;
      expect(stored).toBe(4 * (total(full, true) - projections) + projBytes);
    }
  });

  it('a recomputed segment’s last block under LoRA holds fc1’s adapter product: its early stop is no lower than its saved tensors', () => {
    const cfg = plan({ model: 'gpt-nano', loraRank: 4, checkpoint: 'sqrt' });
    const lay = describedLayout(gptDescriptionOf(resolveModel(cfg) as TransformerSpec, cfg), { amp: false, optimizer: 'adam' });
    const block = lay.units[1]!;
    // fc1's product is fp32 rows×I beside everything up to the activation.
    expect(block.ops!.lastRecomputeTransient).toBeGreaterThan(0);
    expect(block.ops!.lastRecomputeTransient).toBeLessThanOrEqual(block.fwdTransient);
  });
});

describe('the mlp’s model description', () => {
  it.each([1, 3])('%i blocks: its parameters are the planner’s parameter count; its units are consistent', (layers) => {
    const cfg = plan({ model: 'mlp', mlp: { d: 8, hidden: 16, layers, activation: 'relu' }, checkpoint: 'full' });
    const desc = mlpDescriptionOf(resolveModel(cfg) as MlpSpec, cfg);
    expect(total(desc, true)).toBe(estimate({ ...cfg, framework: 'pytorch' }).params);
    expectConsistent(desc);
    // PyTorch's nn.Linear init: U(±1/√fan_in) for weights and biases.
    expect(desc.params.map((p) => p.init)).toEqual(Array.from({ length: layers }, () => [8, 8, 16, 16].map((f) => ({ kind: 'bound', bound: 1 / Math.sqrt(f) }))).flat());
  });
});
