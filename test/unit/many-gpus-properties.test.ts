/**
 * Properties of many-GPU and offload plans: more GPUs never raise the per-GPU bytes except by
 * what the layout names (its communication buffers), and offload never raises the GPU peak.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import type { Plan } from '../../src/protocol/plan.ts';

const plan = (c: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...c });
const comm = (p: Plan) => p.terms.find((t) => t.label === 'communication buffers')?.bytes ?? 0;
/** The per-GPU peak without the buffers the layout itself names. */
const beyondComm = (p: Plan) => p.peak.bytes - comm(p);

// Transformers whose heads (12, 16, 32) and layers (12, 24, 32) divide by 2 and 4.
const base = fc.record({
  model: fc.constantFrom('gpt2-small', 'gpt2-medium', 'llama-3.2-1b', 'llama-2-7b'),
  batch: fc.constantFrom(4, 8),
  seq: fc.constantFrom(256, 1024),
  precision: fc.constantFrom('amp-bf16', 'bf16', 'fp32'),
  checkpoint: fc.constantFrom('none', 'selective', 'full', 'sqrt'),
  attention: fc.constantFrom('eager', 'fused'),
  zero: fc.constantFrom(0, 1, 2, 3),
}) as fc.Arbitrary<Partial<PlanConfig>>;
const RUNS = { numRuns: 40 };

describe('more GPUs never raise the per-GPU bytes beyond the layout’s own buffers', () => {
  it('twice the data-parallel GPUs', () => {
    fc.assert(
      fc.property(base, fc.constantFrom(1, 2, 4), fc.constantFrom(1, 2), (c, dp, tp) => {
        const fewer = plan({ ...c, gpus: tp * dp, parallel: { tp } });
        const more = plan({ ...c, gpus: tp * dp * 2, parallel: { tp } });
        expect(beyondComm(more)).toBeLessThanOrEqual(beyondComm(fewer));
      }),
      RUNS,
    );
  });

  it('twice the tensor-parallel GPUs (with or without sequence parallel)', () => {
    fc.assert(
      fc.property(base, fc.constantFrom(1, 2), fc.boolean(), (c, tp, sp) => {
        const fewer = plan({ ...c, gpus: tp, parallel: { tp, sp: sp && tp > 1 } });
        const more = plan({ ...c, gpus: tp * 2, parallel: { tp: tp * 2, sp } });
        expect(beyondComm(more)).toBeLessThanOrEqual(beyondComm(fewer));
      }),
      RUNS,
    );
  });

  it('twice the pipeline stages, same micro-batches (1F1B, GPipe; layers split evenly)', () => {
    fc.assert(
      fc.property(base, fc.constantFrom('1f1b', 'gpipe') as fc.Arbitrary<'1f1b' | 'gpipe'>, (c, ppSchedule) => {
        const fewer = plan({ ...c, gpus: 2, parallel: { pp: 2, microbatches: 4, ppSchedule } });
        const more = plan({ ...c, gpus: 4, parallel: { pp: 4, microbatches: 4, ppSchedule } });
        expect(beyondComm(more)).toBeLessThanOrEqual(beyondComm(fewer));
      }),
      RUNS,
    );
  });

  it('twice the context-parallel GPUs', () => {
    fc.assert(
      fc.property(base, (c) => {
        const fewer = plan({ ...c, gpus: 2, parallel: { cp: 2 } });
        const more = plan({ ...c, gpus: 4, parallel: { cp: 4 } });
        expect(beyondComm(more)).toBeLessThanOrEqual(beyondComm(fewer));
      }),
      RUNS,
    );
  });

  it('the exception the layout names: an uneven split loads the first stage with more layer-micro-batches (32 layers on 6 stages: 6 per stage first, 6 in flight = 36 layers’ worth, against 4 × 8 = 32 on 4 stages)', () => {
    const base = { model: 'llama-2-7b', batch: 24, seq: 2048 } as const;
    const four = plan({ ...base, gpus: 4, parallel: { pp: 4, microbatches: 24 } });
    const six = plan({ ...base, gpus: 6, parallel: { pp: 6, microbatches: 24 } });
    expect(six.devices![0]!.rank).toMatch(/^stage 0 \(layers 0–5, embedding\)/);
    expect(six.bytes.activations).toBeGreaterThan(four.bytes.activations);
  });
});

describe('offload never raises the GPU peak', () => {
  const what = fc
    .record({ optimizer: fc.boolean(), params: fc.boolean(), activations: fc.boolean(), to: fc.constantFrom('cpu', 'nvme') as fc.Arbitrary<'cpu' | 'nvme'> })
    .filter((o) => o.optimizer || o.params || o.activations);
  it('any offload the settings allow, any layout', () => {
    fc.assert(
      fc.property(base, what, fc.constantFrom(1, 8), fc.constantFrom(1, 2), (c, o, dp, pp) => {
        const zero = o.params ? 3 : c.zero;
        const checkpoint = o.activations && (c.checkpoint === 'none' || c.checkpoint === 'selective') ? 'full' : c.checkpoint;
        const cfg = { ...c, zero, checkpoint, gpus: dp * pp, ...(pp > 1 ? { parallel: { pp } } : {}) } as Partial<PlanConfig>;
        const off = plan(cfg);
        const on = plan({ ...cfg, offload: o, hostMemoryGiB: 1024 });
        expect(on.peak.bytes).toBeLessThanOrEqual(off.peak.bytes);
      }),
      RUNS,
    );
  });
});
