import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ELEMENT_FLOPS, causalPairs, stepWork } from '../../src/estimate/vramlab-work.ts';
import { DEFAULT_RUN, GPT_NANO_RUN, PHASE_NAMES, RUN_OPTIMIZERS, RUN_PRECISIONS, type GptRunConfig, type RunConfig } from '../../src/protocol/run.ts';

const mlpArb = fc.record({
  d: fc.integer({ min: 1, max: 96 }),
  hidden: fc.integer({ min: 1, max: 96 }),
  layers: fc.integer({ min: 2, max: 24 }),
  batch: fc.integer({ min: 1, max: 64 }),
  activation: fc.constantFrom('relu', 'gelu'),
  precision: fc.constantFrom(...RUN_PRECISIONS),
  optimizer: fc.constantFrom(...RUN_OPTIMIZERS),
}).map((c): RunConfig => ({ ...DEFAULT_RUN, ...c }));

const gptArb = fc.record({
  vocab: fc.integer({ min: 2, max: 300 }),
  heads: fc.integer({ min: 1, max: 4 }),
  headDim: fc.integer({ min: 1, max: 8 }).map((h) => 2 * h),
  layers: fc.integer({ min: 2, max: 9 }),
  seq: fc.integer({ min: 1, max: 64 }),
  batch: fc.integer({ min: 1, max: 4 }),
  attention: fc.constantFrom('eager', 'fused'),
  precision: fc.constantFrom(...RUN_PRECISIONS),
  optimizer: fc.constantFrom(...RUN_OPTIMIZERS),
}).map(({ headDim, ...c }): GptRunConfig => ({ ...GPT_NANO_RUN, ...c, dModel: headDim * c.heads }));

const total = (cfg: RunConfig | GptRunConfig, checkpoint: string) => stepWork({ ...cfg, checkpoint } as RunConfig | GptRunConfig).totalFlops;

describe('stepWork: the work of a step from its configuration', () => {
  it('counts the mlp matmuls as 2·M·N·K each, recompute included (d 8, hidden 16, 3 blocks, batch 4)', () => {
    const cfg: RunConfig = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 3, batch: 4 };
    // Every product of this mlp is B×d×hidden in some order: 2 · 4 · 8 · 16 = 1024 FLOPs.
    const product = 2 * 4 * 8 * 16;
    // Forward: fc1 and fc2 per block (6). Backward: dW2, dPre, dW1 per block and dIn for
    // blocks 1 and 2 (11). full recomputes fc1 of each block (3); √3 → segments [0, 1], [2]:
    // fc1 of block 2, then fc1, fc2 of block 0 and fc1 of block 1 (4).
    expect(stepWork({ ...cfg, checkpoint: 'none' }).matmulFlops).toBe(17 * product);
    expect(stepWork({ ...cfg, checkpoint: 'full' }).matmulFlops).toBe(20 * product);
    expect(stepWork({ ...cfg, checkpoint: 'sqrt' }).matmulFlops).toBe(21 * product);
    // Recompute in its own phase: the fc1 products and their bias + gelu epilogue.
    const fc1 = product + (ELEMENT_FLOPS.bias + ELEMENT_FLOPS.gelu) * 4 * 16;
    expect(stepWork({ ...cfg, checkpoint: 'full' }).flops.recompute).toBe(3 * fc1);
  });

  it('counts causal attention over s(s+1)/2 query-key pairs per head', () => {
    expect(causalPairs(2, 3, 4)).toBe(2 * 3 * (4 + 3 + 2 + 1));
    const cfg: GptRunConfig = { ...GPT_NANO_RUN, layers: 1, checkpoint: 'selective', attention: 'eager', seq: 8, batch: 1, heads: 2, dModel: 8 };
    // Selective recompute runs the eager attention forward once per block: QKᵀ and PV and the softmax.
    expect(stepWork(cfg).flops.recompute).toBe(causalPairs(1, 2, 8) * (2 * 2 * 4 + ELEMENT_FLOPS.softmax));
  });

  it('mlp, layers ≥ 2: checkpointing only adds recompute, none < full < sqrt (√n re-runs whole blocks inside a segment)', () => {
    fc.assert(
      fc.property(mlpArb, (cfg) => {
        const none = stepWork({ ...cfg, checkpoint: 'none' });
        const full = stepWork({ ...cfg, checkpoint: 'full' });
        const sqrt = stepWork({ ...cfg, checkpoint: 'sqrt' });
        expect(none.flops.recompute).toBe(0);
        for (const p of PHASE_NAMES.filter((x) => x !== 'recompute')) {
          expect(full.flops[p]).toBe(none.flops[p]);
          expect(sqrt.flops[p]).toBe(none.flops[p]);
        }
        expect(none.totalFlops).toBeLessThan(full.totalFlops);
        expect(full.totalFlops).toBeLessThan(sqrt.totalFlops);
        for (const w of [none, full, sqrt]) {
          expect(Number.isSafeInteger(w.totalFlops)).toBe(true);
          expect(w.totalFlops).toBe(PHASE_NAMES.reduce((a, p) => a + w.flops[p], 0));
          expect(w.matmulFlops).toBeLessThan(w.totalFlops);
          expect(w.clears).toBe(0);
        }
      }),
    );
  });

  it('GPT, layers ≥ 2: none < selective < full < sqrt with eager attention; fused has no probabilities to recompute (selective = none)', () => {
    fc.assert(
      fc.property(gptArb, (cfg) => {
        const [none, selective, full, sqrt] = (['none', 'selective', 'full', 'sqrt'] as const).map((c) => total(cfg, c));
        if (cfg.attention === 'eager') expect(none).toBeLessThan(selective!);
        else expect(selective).toBe(none);
        expect(selective).toBeLessThan(full!);
        expect(full).toBeLessThan(sqrt!);
      }),
    );
  });

  it('one block: √1 is a segment of one, the same work as full', () => {
    const cfg: GptRunConfig = { ...GPT_NANO_RUN, layers: 1 };
    expect(total(cfg, 'sqrt')).toBe(total(cfg, 'full'));
    expect(total({ ...DEFAULT_RUN, layers: 1 }, 'sqrt')).toBe(total({ ...DEFAULT_RUN, layers: 1 }, 'full'));
  });
});
