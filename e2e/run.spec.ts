import { test, expect } from './fixtures.ts';
import { DEFAULT_RUN, type RunConfig, type RunProgress, type RunReport } from '../src/protocol/run.ts';

/** Small enough for SwiftShader in seconds; still two blocks, so backward crosses a block. */
const TINY: RunConfig = { ...DEFAULT_RUN, d: 16, hidden: 32, layers: 2, batch: 8, steps: 3 };

test('the page worker trains a tiny MLP through Comlink and reports the ledger beside the estimate', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  // The dev server's hook (engine-controller.ts): the page's own worker connection.
  await page.waitForFunction(() => window.__vramlab !== undefined);

  const { report, progress } = await page.evaluate(async (config) => {
    const hook = window.__vramlab!;
    const progress: RunProgress[] = [];
    const report = await hook.api.run(
      config,
      hook.proxy((p: RunProgress) => void progress.push(p)),
    );
    return { report, progress };
  }, TINY);

  const r = report as RunReport;
  expect(r.config).toEqual(TINY);
  expect(r.loss).toHaveLength(3);
  for (const l of r.loss) expect(Number.isFinite(l), String(l)).toBe(true);
  expect(r.actual.liveAfterDisposeBytes).toBe(0);
  expect(Number.isInteger(r.actual.peakBytes) && r.actual.peakBytes > 0).toBe(true);
  expect(r.actual.peakBytes).toBe(r.estimate.peak.bytes);
  expect(['timestamp-query', 'wall-clock']).toContain(r.timing.source);
  expect(r.timing.stepMs).toBeGreaterThan(0);
  // A fresh worker's device: the warm-up created the step's pipelines asynchronously before the first step.
  expect(r.timing.warmupPipelines).toBeGreaterThan(0);
  expect(r.timing.warmupMs).toBeGreaterThan(0);
  // Forward, backward, optimizer at least: each phase submitted as the step turns to the next.
  expect(r.work.submits).toBeGreaterThanOrEqual(3);
  // Recording happens in the Worker too, and is a part of the step.
  expect(r.timing.recordMs).toBeGreaterThan(0);
  expect(r.timing.recordMs).toBeLessThanOrEqual(r.timing.stepMs);
  expect(r.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);

  // Progress crossed back through the proxy: one line per step, in order, with the loss.
  const steps = progress.filter((p) => p.stage === 'step');
  expect(steps.map((p) => p.step)).toEqual([1, 2, 3]);
  expect(steps.map((p) => p.loss)).toEqual(r.loss);
});

test('the worker refuses an invalid config with a ConfigError naming the field', async ({ page }) => {
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  const err = await page.evaluate(async (config) => {
    try {
      await window.__vramlab!.api.run(config);
      return null;
    } catch (e) {
      return { name: (e as Error).name, message: (e as Error).message };
    }
  }, { ...TINY, d: -1 } as RunConfig);
  expect(err).toEqual({ name: 'ConfigError', message: expect.stringMatching(/^d: /) });
});

test('a run too large for the device fails with BufferTooLarge and the worker stays usable', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  const result = await page.evaluate(
    async ([huge, tiny]) => {
      const api = window.__vramlab!.api;
      let failure: { name: string; message: string } | null = null;
      try {
        await api.run(huge);
      } catch (e) {
        failure = { name: (e as Error).name, message: (e as Error).message };
      }
      const after = await api.run(tiny);
      return { failure, liveAfter: after.actual.liveAfterDisposeBytes, losses: after.loss.length };
    },
    [{ ...TINY, d: 100_000, hidden: 100_000, steps: 1 }, { ...TINY, steps: 1 }] as [RunConfig, RunConfig],
  );
  expect(result.failure?.name).toBe('BufferTooLarge');
  expect(result.failure?.message).toMatch(/maxStorageBufferBindingSize|maxBufferSize/);
  expect(result).toMatchObject({ liveAfter: 0, losses: 1 });
});

test('cancel() stops a run between steps with Cancelled; a second run meanwhile is refused as Busy', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  const result = await page.evaluate(
    async ([long, tiny]) => {
      const { api, proxy } = window.__vramlab!;
      const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.name);
      let stepsSeen = 0;
      const first = outcome(
        api.run(
          long,
          proxy((p: RunProgress) => {
            if (p.stage === 'step' && ++stepsSeen === 2) void api.cancel();
          }),
        ),
      );
      const second = await outcome(api.run(tiny));
      const cancelled = await first;
      const after = await api.run(tiny);
      return { cancelled, second, stepsSeen, liveAfter: after.actual.liveAfterDisposeBytes };
    },
    [{ ...TINY, steps: 10_000 }, { ...TINY, steps: 1 }] as [RunConfig, RunConfig],
  );
  expect(result).toMatchObject({ cancelled: 'Cancelled', second: 'Busy', liveAfter: 0 });
  expect(result.stepsSeen).toBeLessThan(100);
});

test('a cancel that reaches the worker before its run still cancels that run, and only that one', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  const result = await page.evaluate(
    async ([long, tiny]) => {
      const { api, proxy } = window.__vramlab!;
      const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.name);
      let steps = 0;
      // The cancel is sent first, as when the page's liveness check holds its run back.
      await api.cancel('run-early');
      const early = await outcome(api.run(long, proxy((p: RunProgress) => void (p.stage === 'step' && steps++)), 'run-early'));
      // Used up: another run with another id runs to the end.
      const other = await api.run(tiny, null, 'run-other');
      return { early, steps, otherLoss: other.loss.length, liveAfter: other.actual.liveAfterDisposeBytes };
    },
    [{ ...TINY, steps: 1000 }, { ...TINY, steps: 1 }] as [RunConfig, RunConfig],
  );
  expect(result).toEqual({ early: 'Cancelled', steps: 0, otherLoss: 1, liveAfter: 0 });
});
