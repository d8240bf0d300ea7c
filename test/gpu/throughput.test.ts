import { describe, expect, it } from 'vitest';
import { measureThroughput } from '../../src/engine/throughput.ts';
import { useGpuFixture } from './fixture.ts';

const fx = useGpuFixture('test.throughput');

describe('measureThroughput', () => {
  it('times the engine matmuls for a few hundred ms: a finite positive rate, its flops and time, nothing left allocated', async () => {
    const r = await measureThroughput(fx.device, { ledger: fx.ledger });
    console.log(`throughput ${r.gflops.toFixed(3)} GFLOP/s (${(r.flops / 1e6).toFixed(1)} MFLOP in ${r.ms.toFixed(0)} ms)`);
    expect(Number.isFinite(r.gflops)).toBe(true);
    expect(r.gflops).toBeGreaterThan(0);
    expect(r.flops).toBeGreaterThan(0);
    expect(r.gflops).toBeCloseTo(r.flops / (r.ms * 1e6), 9);
    // At least the 3 timed submissions of one block each; the target is 300 ms.
    expect(r.ms).toBeGreaterThan(0);
    expect(fx.ledger.liveBytes).toBe(0);
    expect(fx.ledger.physicalBytes).toBe(0);
    expect(fx.ledger.entries().length).toBeGreaterThan(0);
  });

  it('refuses a target time that is not a positive number of ms', async () => {
    await expect(measureThroughput(fx.device, { targetMs: 0 })).rejects.toThrow(/targetMs must be in/);
  });
});
