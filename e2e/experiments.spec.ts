/**
 * The experiments component (<vl-experiments>) driving the page's own worker: the
 * checkpointing trade-off and a batch sweep on a tiny mlp, each measured point checked against
 * the planner's framework-vramlab estimate. The spec mounts the component itself under the
 * page (through the dev server's module URL and the DEV hook window.__vramlab), so it does not
 * depend on where the page places it. Shapes are tiny: SwiftShader runs WebGPU on the CPU.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { test, expect } from './fixtures.ts';
import type { Page } from '@playwright/test';
import type { PlanConfig } from '../src/protocol/config.ts';

const TINY_MLP = { d: 8, hidden: 16, layers: 4, activation: 'gelu' } as const;

/** Opens the page, waits for its engine, and mounts <vl-experiments> on the tiny mlp. */
async function mountExperiments(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('adapter-card')).toHaveAttribute('aria-busy', 'false', { timeout: 30_000 });
  await page.waitForFunction(() => window.__vramlab !== undefined);
  await page.evaluate(async (mlp) => {
    // Vite serves the sources by path in dev; importing the component registers the element.
    const paths = { config: '/src/protocol/config.ts', experiments: '/src/ui/experiments.ts' };
    const { DEFAULT_PLAN } = (await import(/* @vite-ignore */ paths.config)) as typeof import('../src/protocol/config.ts');
    await import(/* @vite-ignore */ paths.experiments);
    // This spec drives its own instance with a fixed mlp config: the page's copy (which
    // follows the form) is taken out so test ids stay unique.
    document.querySelector('vl-app')?.shadowRoot?.querySelector('vl-experiments')?.remove();
    const el = document.createElement('vl-experiments');
    const config: PlanConfig = {
      ...DEFAULT_PLAN,
      model: 'mlp',
      mlp: { ...mlp },
      batch: 4,
      precision: 'fp32',
      optimizer: 'adam',
      checkpoint: 'none',
      framework: 'vramlab',
    };
    el.planConfig = config;
    // Through the hook each time: a restarted worker gets a new one.
    el.runner = window.__vramlab!.labRunner({
      run: (c, onProgress) => window.__vramlab!.run(c, onProgress),
      cancel: () => window.__vramlab!.api.cancel(),
    });
    el.engineStatus = 'ready';
    el.dataset['testid'] = 'experiments';
    document.body.append(el);
    await el.updateComplete;
  }, TINY_MLP);
  await page.getByTestId('experiments-steps').fill('2');
}

/** Serious or critical axe findings under the component (WCAG 2.x A/AA and best practices), one line each. */
async function axeBlocking(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .include('[data-testid="experiments"]')
    .analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${v.help} — ${JSON.stringify(n.target)}`));
}

async function finished(page: Page, testid: string): Promise<number> {
  return Number(await page.getByTestId(testid).getAttribute('data-finished'));
}

async function numberAttr(page: Page, testid: string, name: string): Promise<number> {
  const v = await page.getByTestId(testid).getAttribute(name);
  expect(v, `${testid} ${name}`).toMatch(/^\d+(\.\d+)?$/);
  return Number(v);
}

test('the checkpointing trade-off runs each mode: each equal to its estimate, ordered by counted compute, saved as CSV', async ({ page }) => {
  test.setTimeout(180_000);
  await mountExperiments(page);

  // Before it starts, it says how long it should take here.
  await expect(page.getByTestId('tradeoff-run-duration')).toContainText(/3 runs, (about \d+ (s|min)|under a second) on this device/);
  const before = await finished(page, 'tradeoff-status');
  await page.getByTestId('tradeoff-run').click();
  await expect(page.getByTestId('tradeoff-status')).toHaveText(/mode [123]\/3|Done/);
  await expect.poll(() => finished(page, 'tradeoff-status'), { timeout: 150_000 }).toBeGreaterThan(before);
  await expect(page.getByTestId('tradeoff-status')).toHaveAttribute('data-phase', 'done');

  const peaks: Record<string, number> = {};
  const flops: Record<string, number> = {};
  for (const mode of ['none', 'sqrt', 'full']) {
    const row = `tradeoff-point-${mode}`;
    await expect(page.getByTestId(row)).toHaveAttribute('data-status', 'done');
    peaks[mode] = await numberAttr(page, row, 'data-peak');
    flops[mode] = await numberAttr(page, row, 'data-flops');
    expect(peaks[mode], `${mode}: measured peak equals the vramlab estimate`).toBe(await numberAttr(page, row, 'data-estimated'));
    expect(await numberAttr(page, row, 'data-ms')).toBeGreaterThan(0);
    await expect(page.getByTestId(row)).toContainText('exact');
  }
  expect(peaks['full']!).toBeLessThanOrEqual(peaks['none']!);
  // The compute axis is a count, not a stopwatch: recomputation always costs more than none;
  // √n re-runs whole segments, full each block only up to what its backward needs.
  expect(flops['none']!).toBeLessThan(flops['full']!);
  expect(flops['full']!).toBeLessThanOrEqual(flops['sqrt']!);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('results-export-csv').click()]);
  expect(download.suggestedFilename()).toMatch(/^vramlab-experiment-tradeoff-.*\.csv$/);
  const csv = readFileSync((await download.path())!, 'utf8').trimEnd().split('\r\n');
  expect(csv[0]).toMatch(/^id,label,status,model,/);
  expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(['none', 'full', 'sqrt']);

  // Three measured dots and three estimate rings, each measured dot labelled with its mode.
  const chart = page.getByTestId('tradeoff-chart');
  await expect(chart.locator('svg')).toHaveAttribute('role', 'img');
  await expect(chart.locator('circle.mark.dot')).toHaveCount(3);
  await expect(chart.locator('circle.mark.ring')).toHaveCount(3);
  await expect(chart.locator('text.mark-label')).toHaveText(['none', 'full', 'sqrt']);

  expect(await axeBlocking(page)).toEqual([]);

  mkdirSync('test-results/screenshots', { recursive: true });
  await page.getByTestId('experiments').screenshot({ path: 'test-results/screenshots/experiments-tradeoff.png' });
});

test('a batch sweep draws the estimate curve and measures each chosen batch exactly on it', async ({ page }) => {
  test.setTimeout(150_000);
  await mountExperiments(page);

  // A view whose tab is not shown computes nothing: no sweep controls, points or curve yet.
  await expect(page.getByTestId('tradeoff-run')).toHaveCount(1);
  await expect(page.locator('vl-sweep-view')).toHaveAttribute('inactive', '');
  await expect(page.getByTestId('sweep-values')).toHaveCount(0);
  await expect(page.getByTestId('sweep-chart')).toHaveCount(0);

  // The tabs are keyboard-driven: focus the selected one and move right.
  await page.getByTestId('experiments-tab-tradeoff').focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('experiments-tab-sweep')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('experiments-tab-sweep')).toBeFocused();
  // Now the sweep draws its curve, and the hidden trade-off stops computing.
  await expect(page.getByTestId('sweep-chart').locator('polyline.curve')).toHaveCount(2);
  await expect(page.getByTestId('tradeoff-run')).toHaveCount(0);

  // Validation: one value is not a sweep.
  await page.getByTestId('sweep-values').fill('4');
  await expect(page.getByTestId('sweep-values-error')).toContainText('2 to 8 values');
  await expect(page.getByTestId('sweep-run')).toBeDisabled();
  await page.getByTestId('sweep-values').fill('8, 4');
  await expect(page.getByTestId('sweep-values-error')).toHaveCount(0);

  // The estimate is drawn before anything runs: peak and activations over batch 4…8.
  const chart = page.getByTestId('sweep-chart');
  await expect(chart.locator('polyline.curve')).toHaveCount(2);

  const before = await finished(page, 'sweep-status');
  await page.getByTestId('sweep-run').click();
  await expect.poll(() => finished(page, 'sweep-status'), { timeout: 120_000 }).toBeGreaterThan(before);
  await expect(page.getByTestId('sweep-status')).toHaveAttribute('data-phase', 'done');

  const measured: number[] = [];
  for (const batch of [4, 8]) {
    const row = `sweep-point-${batch}`;
    await expect(page.getByTestId(row)).toHaveAttribute('data-status', 'done');
    const m = await numberAttr(page, row, 'data-measured');
    expect(m, `batch ${batch}: measured peak equals the vramlab estimate`).toBe(await numberAttr(page, row, 'data-estimated'));
    measured.push(m);
  }
  expect(measured[1]!).toBeGreaterThan(measured[0]!);
  await expect(chart.locator('circle.mark.dot')).toHaveCount(2);
  await expect(chart.locator('rect.mark.square')).toHaveCount(2);

  expect(await axeBlocking(page)).toEqual([]);

  await page.getByTestId('experiments').scrollIntoViewIfNeeded();
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.getByTestId('experiments').screenshot({ path: 'test-results/screenshots/experiments.png' });
});

test('a point that fails shows its error and the rest still run; cancel stops the remaining points', async ({ page }) => {
  test.setTimeout(150_000);
  await mountExperiments(page);
  // The real engine, except batch 8 fails as a too-large buffer would, and batch 32 waits until cancelled.
  await page.evaluate(() => {
    const el = document.querySelector('vl-experiments')!;
    let release: ((e: Error) => void) | null = null;
    el.runner = window.__vramlab!.labRunner({
      run: (c, onProgress) => {
        const fail = (name: string, message: string) => Object.assign(new Error(message), { name });
        if (c.batch === 8) return Promise.reject(fail('BufferTooLarge', 'activations (8 × 16 floats) is larger than maxStorageBufferBindingSize; lower the batch'));
        if (c.batch === 32) return new Promise((_, reject) => (release = reject));
        return window.__vramlab!.run(c, onProgress);
      },
      cancel: async () => {
        release?.(Object.assign(new Error('Cancelled'), { name: 'Cancelled' }));
      },
    });
  });
  await page.getByTestId('experiments-tab-sweep').click();
  await page.getByTestId('sweep-values').fill('4,8,12');
  let before = await finished(page, 'sweep-status');
  await page.getByTestId('sweep-run').click();
  await expect.poll(() => finished(page, 'sweep-status'), { timeout: 120_000 }).toBeGreaterThan(before);
  await expect(page.getByTestId('sweep-point-8')).toHaveAttribute('data-status', 'failed');
  await expect(page.getByTestId('sweep-point-8')).toContainText('BufferTooLarge: activations');
  await expect(page.getByTestId('sweep-point-8')).toHaveAttribute('data-measured', '');
  for (const batch of [4, 12]) await expect(page.getByTestId(`sweep-point-${batch}`)).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('sweep-status')).toContainText('2 of 3 ran');

  // 32 hangs until Cancel; 64 never starts.
  await page.getByTestId('sweep-values').fill('4,32,64');
  before = await finished(page, 'sweep-status');
  await page.getByTestId('sweep-run').click();
  await expect(page.getByTestId('sweep-status')).toContainText('point 2/3 (batch 32)', { timeout: 60_000 });
  await page.getByTestId('sweep-run-cancel').click();
  await expect.poll(() => finished(page, 'sweep-status')).toBeGreaterThan(before);
  await expect(page.getByTestId('sweep-status')).toHaveAttribute('data-phase', 'cancelled');
  await expect(page.getByTestId('sweep-point-4')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('sweep-point-32')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('sweep-point-64')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('sweep-run')).toBeEnabled();
});
