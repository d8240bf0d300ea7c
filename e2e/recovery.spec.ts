/**
 * The lab stays up when the GPU or the engine goes away: a lost device is replaced, a dead
 * worker is restarted, and the page says so in its status region. A worker that answers with
 * garbage gets an error on the card, not a crashed page, and one that dies on every start is
 * given up on after a bounded number of restarts. (A run too large for the device, and
 * the tiny run after it, is covered in run.spec.ts.)
 */
import { mkdirSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { chooseMlp } from './lab.ts';
import { DEFAULT_RUN, type RunConfig, type RunReport } from '../src/protocol/run.ts';

/** Small enough for SwiftShader in well under a second. */
const TINY: RunConfig = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 1, batch: 4, steps: 1 };

declare global {
  interface Window {
    /** The Worker a test terminated, to tell the restarted hook from the old one. */
    __deadWorker?: Worker;
  }
}

async function tinyRun(page: Page): Promise<Pick<RunReport, 'loss'> & { liveAfter: number }> {
  return page.evaluate(async (config) => {
    const r = await window.__vramlab!.api.run(config);
    return { loss: r.loss, liveAfter: r.actual.liveAfterDisposeBytes };
  }, TINY);
}

async function openReady(page: Page): Promise<void> {
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/);
}

test('a lost GPU device is replaced by a new one, and the page says so', async ({ page }) => {
  await openReady(page);
  const status = page.getByTestId('engine-status');
  await expect(status).toHaveAttribute('role', 'status');
  await expect(status).toBeEmpty();

  await page.evaluate(() => window.__vramlab!.api.loseDevice());

  await expect(status).toHaveText(/^The GPU device was lost \(.+\); a new device is ready\.$/);
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/);
  await expect(page.getByTestId('adapter-error')).toHaveCount(0);
  // The loss is told once, as a recovery, not left in the card's error list.
  await expect(page.getByTestId('device-errors')).toHaveCount(0);
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/recovery-device.png', fullPage: true });

  const run = await tinyRun(page);
  expect(run.loss).toHaveLength(1);
  expect(Number.isFinite(run.loss[0])).toBe(true);
  expect(run.liveAfter).toBe(0);
});

test('a device lost in the middle of a run ends it with a sentence that says so', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('1000');
  await expect(page.getByTestId('run-button')).toBeEnabled({ timeout: 30_000 });
  await page.getByTestId('run-button').click();
  await expect(page.getByTestId('run-progress').getByTestId('progress-text')).toHaveText(/^step \d+\/1000, loss \S+ — /, { timeout: 30_000 });
  await page.evaluate(() => window.__vramlab!.api.loseDevice());

  const error = page.getByTestId('run-error');
  await expect(error).toHaveAttribute('data-error', 'DeviceLost', { timeout: 30_000 });
  // Not the driver's raw text ("A valid external Instance reference no longer exists."), nor nothing.
  await expect(error).toHaveText(/^The GPU device was lost \(.+\); nothing was kept$/);
  // The page recovers as from any loss (the test above runs on the new device).
  await expect(page.getByTestId('engine-status')).toHaveText(/a new device is ready\.$/, { timeout: 30_000 });
});

test('a terminated engine worker is replaced within seconds, and the page says so', async ({ page }) => {
  await openReady(page);
  await page.evaluate(() => {
    const hook = window.__vramlab!;
    window.__deadWorker = hook.worker;
    hook.worker.terminate();
  });

  // The watchdog notices the silence, starts a new worker and publishes a new hook.
  await page.waitForFunction(() => window.__vramlab !== undefined && window.__vramlab.worker !== window.__deadWorker, null, {
    timeout: 10_000,
  });
  await expect(page.getByTestId('engine-status')).toHaveText('The engine worker stopped; a new one is running.', { timeout: 10_000 });
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/);
  await expect(page.getByTestId('adapter-error')).toHaveCount(0);
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/recovery-worker.png', fullPage: true });

  const run = await tinyRun(page);
  expect(run.loss).toHaveLength(1);
  expect(run.liveAfter).toBe(0);
  // The page's own path too: liveness check, then the progress and report validated.
  const checked = await page.evaluate(async (config) => {
    const stages: string[] = [];
    const r = await window.__vramlab!.run(config, (p) => stages.push(p.stage));
    return { loss: r.loss.length, stages };
  }, TINY);
  expect(checked.loss).toBe(1);
  expect(checked.stages).toContain('done');
});

test('a worker that answers with a malformed adapter summary gets an error on the card, not a crash', async ({ page }) => {
  // A stand-in worker speaking Comlink's wire format (a RAW value per call): probe() answers
  // with an object that is not an AdapterSummary; every other call answers undefined.
  const fake = `
    self.onmessage = (ev) => {
      const { id, path } = ev.data ?? {};
      if (id === undefined) return;
      const value = path && path[0] === 'probe'
        ? { vendor: 42, architecture: '<img src=x onerror=window.__pwned=1>', features: 'all', limits: null }
        : undefined;
      self.postMessage({ id, type: 'RAW', value });
    };`;
  await page.route('**/src/engine/worker.ts*', (route) => route.fulfill({ contentType: 'text/javascript', body: fake }));
  await page.goto('/');

  const error = page.getByTestId('adapter-error');
  await expect(error).toHaveText(/the adapter summary/i);
  await expect(page.locator('vl-app').locator('img')).toHaveCount(0);
  // The planner is unaffected.
  await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
});

test('a worker that dies on every start is restarted a bounded number of times, then the page asks for a reload', async ({ page }) => {
  await page.route('**/src/engine/worker.ts*', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: 'throw new Error("the engine failed to start")' }),
  );
  await page.goto('/');
  await expect(page.getByTestId('adapter-error')).toHaveText(/^The engine worker stopped 5 times in a minute; reload the page/);
  await expect(page.getByTestId('engine-status')).toHaveText(/reload the page/);
  await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
});
