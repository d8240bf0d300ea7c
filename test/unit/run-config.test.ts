/** The plan → run mapping of the page's Run panel (src/ui/run-config.ts) for LoRA and QLoRA. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import { GPT_NANO_RUN } from '../../src/protocol/run.ts';
import { ignoredSettings, validate } from '../../src/ui/run-config.ts';
import { describeChanges, scaleGpt } from '../../src/ui/scale.ts';

const plan = (over: Partial<PlanConfig>): PlanConfig => ({ ...DEFAULT_PLAN, model: 'gpt-nano', mode: 'train', precision: 'fp32', optimizer: 'adam', checkpoint: 'none', ...over });

describe('Run panel: LoRA and QLoRA', () => {
  it('a GPT plan with a LoRA rank (and QLoRA) runs with them; nothing is ignored', () => {
    const c = plan({ loraRank: 8, qlora: true });
    const v = validate(c, '3', '1');
    expect(v.errors).toBeNull();
    expect(v.config).toMatchObject({ model: 'gpt', loraRank: 8, qlora: true });
    expect(ignoredSettings(c)).toEqual([]);
    expect(validate(plan({ loraRank: 0 }), '3', '1').config).not.toHaveProperty('loraRank');
  });

  it('a Llama plan with a LoRA rank (and QLoRA) runs with them; nothing is ignored', () => {
    const c = plan({ model: 'llama-3.2-1b', loraRank: 8, qlora: true, seq: 16 });
    const v = validate(c, '3', '1');
    expect(v.errors).toBeNull();
    expect(v.config).toMatchObject({ model: 'llama', loraRank: 8, qlora: true });
    expect(ignoredSettings(c)).toEqual([]);
    expect(validate(plan({ model: 'llama-3.2-1b', seq: 16 }), '3', '1').config).not.toHaveProperty('loraRank');
  });

  it('the mlp has no projections to adapt: its LoRA settings are listed as ignored', () => {
    const c = plan({ model: 'mlp', loraRank: 8 });
    expect(ignoredSettings(c)).toContain('LoRA rank 8');
    expect(validate(c, '3', '1').config).not.toHaveProperty('loraRank');
  });

  it('a rank above the width is refused with the field named', () => {
    const v = validate(plan({ loraRank: 65 }), '3', '1');
    expect(v.errors?.config).toMatch(/^loraRank: lora rank must be at most d-model \(64\)/);
  });

  it('scaling a GPT down keeps its LoRA rank within the scaled width, and says so', () => {
    const c = { ...GPT_NANO_RUN, loraRank: 48 };
    const s = scaleGpt(c, 4);
    expect(s.dModel).toBe(16);
    expect(s.loraRank).toBe(16);
    expect(describeChanges(c, s)).toMatch(/LoRA rank 48→16/);
    expect(scaleGpt({ ...GPT_NANO_RUN, loraRank: 4 }, 4).loraRank).toBe(4);
  });

  it('scaling keeps a depth floor when asked (a lesson that needs its blocks), never raising the depth', () => {
    const deep = { ...GPT_NANO_RUN, layers: 16 };
    expect(scaleGpt(deep, 16).layers).toBe(1);
    expect(scaleGpt(deep, 16, 4).layers).toBe(4);
    expect(scaleGpt(deep, 2, 4).layers).toBe(8);
    expect(scaleGpt({ ...GPT_NANO_RUN, layers: 2 }, 16, 4).layers).toBe(2);
  });
});
