/** The band around the total: the same peak with the overheads at the ends of their ranges. */
import { describe, expect, it } from 'vitest';
import { NCCL_GROUP_BYTES, planBand } from '../../src/estimate/band.ts';
import { estimate } from '../../src/estimate/index.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });

describe('planBand', () => {
  it('low: 300 MiB context, no reserve; high: 2 GiB context, 15 % reserve, NCCL buffers per process group', () => {
    const b = planBand(10 * GiB, 11 * GiB, 2);
    expect(b.low.bytes).toBe(10 * GiB + 300 * MiB);
    expect(b.high.bytes).toBe(10 * GiB + 2 * GiB + 1.5 * GiB + 2 * NCCL_GROUP_BYTES);
    expect(NCCL_GROUP_BYTES).toBe(288 * MiB);
    expect(b.expected.bytes).toBe(11 * GiB);
    expect(b.high.assumes).toMatch(/2 process groups/);
  });

  it('every plan has one, low ≤ expected = total ≤ high', () => {
    for (const p of [plan({}), plan({ mode: 'inference', precision: 'bf16' }), plan({ model: 'llama-2-7b', gpus: 8, zero: 3 })]) {
      expect(p.band!.low.bytes).toBeLessThanOrEqual(p.totalBytes);
      expect(p.band!.expected.bytes).toBe(p.totalBytes);
      expect(p.band!.high.bytes).toBeGreaterThan(p.totalBytes);
    }
  });

  it('a layout with more process groups widens the high bound by their NCCL buffers', () => {
    const dp = plan({ model: 'llama-2-7b', gpus: 8, zero: 1 });
    const tpdp = plan({ model: 'llama-2-7b', gpus: 8, zero: 1, parallel: { tp: 2 } });
    const margin = (p: typeof dp) => p.band!.high.bytes - p.peak.bytes - 2 * GiB - Math.round(p.peak.bytes * 0.15);
    expect(margin(dp)).toBe(NCCL_GROUP_BYTES);
    expect(margin(tpdp)).toBe(2 * NCCL_GROUP_BYTES);
  });
});
