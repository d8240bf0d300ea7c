import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EstimateError } from '../../src/estimate/errors.ts';
import { estimate, listModels } from '../../src/estimate/index.ts';
import { ATTENTIONS, CHECKPOINTS, DEFAULT_PLAN, OPTIMIZERS, type PlanConfig } from '../../src/protocol/config.ts';
import { PLAN_CATEGORIES, type Plan } from '../../src/protocol/plan.ts';

const infos = listModels();
const models = infos.map((m) => m.id);
// Image families fix or constrain their input size (a VAE's 8×, a patch grid, DCGAN's 64×64): they
// run at their own resolution; the ResNets, which take any size, at a random one.
const nativeSize = new Map(infos.filter((m) => m.family !== 'resnet' && 'imageSize' in m).map((m) => [m.id, (m as { imageSize: number }).imageSize]));

const configArb = fc.record({
  model: fc.constantFrom(...models),
  batch: fc.integer({ min: 1, max: 64 }),
  seq: fc.integer({ min: 1, max: 4096 }),
  imageSize: fc.integer({ min: 32, max: 512 }),
  precision: fc.constantFrom('fp32', 'amp-fp16', 'amp-bf16', 'fp16', 'bf16'),
  optimizer: fc.constantFrom(...OPTIMIZERS),
  checkpoint: fc.constantFrom(...CHECKPOINTS.filter((c) => c !== 'selective')),
  attention: fc.constantFrom(...ATTENTIONS),
  mode: fc.constantFrom('train', 'inference'),
}).map((c) => ({ ...DEFAULT_PLAN, ...c, imageSize: nativeSize.get(c.model) ?? c.imageSize, mlp: { d: 64, hidden: 128, layers: 3, activation: 'gelu' as const } }) as PlanConfig);

/**
 * The plan, or null where the planner refuses the configuration with an EstimateError (a fixed
 * input size, checkpointing a network too shallow for it): a refusal is an answer, not a case of
 * the property. fast-check fails the run if too many cases are refused.
 */
function plan(cfg: PlanConfig): Plan | null {
  try {
    return estimate(cfg);
  } catch (e) {
    if (e instanceof EstimateError) return null;
    throw e;
  }
}

function planned(cfg: PlanConfig): Plan {
  const p = plan(cfg);
  fc.pre(p !== null);
  return p!;
}

describe('planner properties over random configurations', () => {
  it('every byte count is a finite, non-negative integer and the peak covers each category at the peak', () => {
    fc.assert(
      fc.property(configArb, (cfg) => {
        const p = planned(cfg);
        for (const k of PLAN_CATEGORIES) {
          expect(Number.isSafeInteger(p.bytes[k])).toBe(true);
          expect(p.bytes[k]).toBeGreaterThanOrEqual(0);
          expect(p.peak.alive[k]).toBeLessThanOrEqual(p.bytes[k]);
        }
        expect(Number.isSafeInteger(p.peak.bytes)).toBe(true);
        expect(p.peak.bytes).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('more batch or a longer sequence never means less memory', () => {
    fc.assert(
      fc.property(configArb, fc.integer({ min: 1, max: 8 }), (cfg, extra) => {
        const base = planned(cfg).peak.bytes;
        expect(estimate({ ...cfg, batch: cfg.batch + extra }).peak.bytes).toBeGreaterThanOrEqual(base);
        expect(estimate({ ...cfg, seq: cfg.seq + extra }).peak.bytes).toBeGreaterThanOrEqual(base);
      }),
      { numRuns: 200 },
    );
  });

  it('checkpointing never raises the activation bytes in training', () => {
    fc.assert(
      fc.property(configArb, (cfg) => {
        const t = { ...cfg, mode: 'train' as const };
        const none = planned({ ...t, checkpoint: 'none' }).bytes.activations;
        expect(planned({ ...t, checkpoint: 'full' }).bytes.activations).toBeLessThanOrEqual(none);
        expect(planned({ ...t, checkpoint: 'sqrt' }).bytes.activations).toBeLessThanOrEqual(none);
      }),
      { numRuns: 200 },
    );
  });
});
