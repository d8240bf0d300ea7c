/**
 * The LoRA part of a model description (estimate/describe-lora.ts) and what describedLayout
 * makes of frozen parameters and adapters: no gradient, optimizer state or master for a frozen
 * base; its stored bytes by storage; fp32 adapters with gradients and states at any precision.
 */
import { describe, expect, it } from 'vitest';
import { describedLayout, frozenTensors, type ModelDescription, type ParamDesc } from '../../src/estimate/describe.ts';
import { frozen, loraBackwardMoment, loraForwardMoment, loraParams, loraTensors } from '../../src/estimate/describe-lora.ts';
import { ENGINE_OP } from '../../src/estimate/vramlab.ts';

const target = { name: 'h0.W', K: 64, N: 96, init: { kind: 'uniform', std: 0.02 } } as const;
const norm: ParamDesc = { name: 'h0.g', n: 64, matmul: false, init: { kind: 'ones' } };

/** One unit holding the projection's adapter tensors, the adapters' gradients in it. */
function desc(params: ParamDesc[], tensors = {}): ModelDescription {
  return {
    params,
    units: [{
      name: 'block 0', recomputable: false, grads: params.filter((p) => p.role !== 'frozen'), tensors, saved: [], selective: [], forwardMoments: [], backwardMoments: [],
      ops: { forward: ENGINE_OP.forwardBlock(0), backward: ENGINE_OP.backwardBlock(0), input: 0, output: 0, gradOut: 0 },
    }],
    inputBytes: 0,
  };
}

describe('describe-lora: a projection under LoRA', () => {
  it('the base is frozen in its storage; A (in×r) and B (r×out) are fp32 adapters, B zero', () => {
    const [base, A, B] = loraParams(target, { rank: 8, amp: false, qlora: false });
    expect(base).toMatchObject({ name: 'h0.W', n: 64 * 96, role: 'frozen', stored: 'f32' });
    expect(A).toMatchObject({ name: 'h0.W.lora_A', n: 64 * 8, role: 'adapter', matmul: false });
    expect(B).toMatchObject({ name: 'h0.W.lora_B', n: 8 * 96, role: 'adapter', init: { kind: 'zeros' } });
    expect(loraParams(target, { rank: 8, amp: true, qlora: false })[0]!.stored).toBe('packed16');
    expect(loraParams(target, { rank: 8, amp: true, qlora: true })[0]!.stored).toBe('nf4');
    expect(() => loraParams(target, { rank: 0, amp: false, qlora: false })).toThrow(/rank must be a positive integer/);
  });

  it('frozen tensors: fp32 4 B, packed 16-bit 2 B, NF4 0.5 B per value plus a 4-byte scale per 64', () => {
    const n = 64 * 96;
    const bytes = (stored: ParamDesc['stored']) => frozenTensors({ ...norm, n, stored, role: 'frozen' });
    expect(bytes('f32')).toEqual([{ name: 'h0.g', bytes: 4 * n }]);
    expect(bytes('packed16')).toEqual([{ name: 'h0.g', bytes: 2 * n }]);
    expect(bytes('nf4')).toEqual([{ name: 'h0.g.nf4', bytes: n / 2 }, { name: 'h0.g.absmax', bytes: 4 * (n / 64) }]);
  });

  it('describedLayout: frozen bytes are weights only; adapters have gradients and states, no master or copy', () => {
    const n = 64 * 96;
    const ad = 8 * (64 + 96);
    for (const [amp, qlora, baseBytes] of [[false, false, 4 * n], [true, false, 2 * n], [true, true, n / 2 + 4 * (n / 64)]] as const) {
      const lay = describedLayout(desc([frozen(norm), ...loraParams(target, { rank: 8, amp, qlora })]), { amp, optimizer: 'adam' });
      expect(lay.weightsBytes, `amp ${amp} qlora ${qlora}`).toBe(4 * 64 + baseBytes + 4 * ad);
      expect(lay.masterBytes).toBe(0);
      expect(lay.gradBytes).toBe(4 * ad);
      expect(lay.optimizerBytes).toBe(2 * 4 * ad);
      expect(lay.units[0]!.gradBytes).toBe(4 * ad);
    }
    // Full fine-tuning of the same parameters: masters, copies, gradients and states of all.
    const full = describedLayout(desc([norm, { name: 'h0.W', n, matmul: true, init: target.init }]), { amp: true, optimizer: 'adam' });
    expect([full.weightsBytes, full.masterBytes, full.gradBytes, full.optimizerBytes]).toEqual([2 * n, 4 * (n + 64), 4 * (n + 64), 8 * (n + 64)]);
  });

  it('its tensors and moments: s·(x·A) in activation storage, the rest fp32; the worst moments add them to what is live', () => {
    const t = loraTensors(target, 10, { rank: 4, amp: true, qlora: false });
    expect(t).toEqual({
      'h0.W.lora_xa': { bytes: 2 * 40, category: 'activations' },
      'h0.W.lora_xaB': { bytes: 4 * 10 * 96, category: 'activations' },
      'h0.W.lora_dxa': { bytes: 4 * 40, category: 'activation-grads' },
      'h0.W.lora_dx': { bytes: 4 * 10 * 64, category: 'activation-grads' },
    });
    expect(loraForwardMoment('h0.W', ['x', 'y'])).toEqual(['x', 'y', 'h0.W.lora_xa', 'h0.W.lora_xaB']);
    expect(loraBackwardMoment('h0.W', ['dy', 'dx'])).toEqual(['dy', 'dx', 'h0.W.lora_dxa', 'h0.W.lora_dx']);
  });

  it('lastRecomputeMoments become the unit’s lastRecomputeTransient beyond its saved tensors', () => {
    const d = desc([]);
    const u = d.units[0]!;
    u.tensors = { x: { bytes: 100, category: 'activations' }, big: { bytes: 300, category: 'activations' } };
    u.saved = ['x'];
    expect(describedLayout(d, { amp: false, optimizer: 'sgd' }).units[0]!.ops!.lastRecomputeTransient).toBeUndefined();
    u.lastRecomputeMoments = [['x', 'big']];
    expect(describedLayout(d, { amp: false, optimizer: 'sgd' }).units[0]!.ops!.lastRecomputeTransient).toBe(300);
  });
});
