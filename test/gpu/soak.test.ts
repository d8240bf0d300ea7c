import { describe, expect, it } from 'vitest';
import { MlpTrainer } from '../../src/engine/graph/mlp.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder } from '../../src/engine/profiler.ts';
import { runTraining } from '../../src/engine/run.ts';
import { DEFAULT_RUN, type RunConfig } from '../../src/protocol/run.ts';
import { useTrainerDevice } from './fixture.ts';

const dev = useTrainerDevice('test.soak');

/** Heap in use after a full collection (vitest runs this project with --expose-gc). */
function heapMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (see vitest.config.ts)');
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const cfg: RunConfig = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 2, batch: 4, steps: 1, optimizer: 'adam', precision: 'amp-bf16' };

describe('soak', () => {
  it('1,000 training steps in one process: live bytes flat, heap flat', async () => {
    const ledger = new Ledger(dev.device, { historyLimit: 2_000 });
    try {
      const t = await MlpTrainer.create(dev.device, ledger, cfg);
      const rec = await StepRecorder.create(dev.device, ledger, 3 + 2 * cfg.layers);
      const liveBetweenSteps = new Set<number>();
      let heapAt100 = 0;
      let first = 0;
      let last = 0;
      for (let s = 1; s <= 1000; s++) {
        await t.step(rec);
        await rec.finish();
        liveBetweenSteps.add(ledger.liveBytes);
        if (s === 1) first = await t.readLoss();
        if (s === 100) heapAt100 = heapMiB();
      }
      last = await t.readLoss();
      const heapAt1000 = heapMiB();
      console.log(
        `soak 1000 steps: live bytes between steps ${[...liveBetweenSteps].join(', ')} B; heap ${heapAt100.toFixed(2)} MiB at step 100, ` +
          `${heapAt1000.toFixed(2)} MiB at step 1000; loss ${first.toExponential(3)} → ${last.toExponential(3)}; peak ${ledger.peakBytes} B`,
      );
      expect(liveBetweenSteps.size).toBe(1);
      expect(heapAt1000 - heapAt100).toBeLessThan(2);
      expect(Number.isFinite(last)).toBe(true);
      rec.destroy();
    } finally {
      ledger.dispose();
    }
    expect(ledger.liveBytes).toBe(0);
  });

  it('100 build/run/dispose cycles: nothing left on the device, heap flat', async () => {
    let heapAt10 = 0;
    for (let i = 1; i <= 100; i++) {
      const r = await runTraining(dev.opened, { ...cfg, seed: i });
      expect(r.actual.liveAfterDisposeBytes).toBe(0);
      if (i === 10) heapAt10 = heapMiB();
    }
    const heapAt100 = heapMiB();
    console.log(`100 cycles: heap ${heapAt10.toFixed(2)} MiB after 10, ${heapAt100.toFixed(2)} MiB after 100`);
    expect(heapAt100 - heapAt10).toBeLessThan(2);
  });
});
