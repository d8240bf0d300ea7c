/**
 * The "peak memory, three ways" bars: the textbook rule and the detailed estimate agree with
 * the breakdown's numbers, and a run adds the ledger's measurement.
 */
import { mkdirSync } from 'node:fs';
import { test, expect } from './fixtures.ts';
import { bytesOf, chooseMlp, pressRun } from './lab.ts';
import type { Page } from '@playwright/test';

/** The breakdown's textbook line carries no data attribute: its "(N B)"-free text gives GiB only, so read the plan from the bars' sibling instead. */
async function textbookBytes(page: Page): Promise<number> {
  return page.evaluate(() => {
    const app = document.querySelector('vl-app');
    const breakdown = app?.shadowRoot?.querySelector('vl-plan-breakdown') as (HTMLElement & { plan: { textbook: { bytes: number } } | null }) | null;
    return breakdown?.plan?.textbook.bytes ?? Number.NaN;
  });
}

test('the default model draws the textbook and detailed bars, GPU lines, and a tiny mlp run adds the measured bar', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  const chart = page.getByTestId('plan-bars');
  await expect(chart).toBeVisible();
  await expect(chart).toHaveAttribute('role', 'img');
  await expect(chart).toHaveAttribute('aria-label', /^Peak memory three ways: textbook .+, detailed .+\. GPUs of nearby sizes: .+/);

  await expect(page.getByTestId('bar-textbook')).toHaveAttribute('data-bytes', /^\d+$/);
  expect(await bytesOf(page, 'bar-textbook')).toBe(await textbookBytes(page));
  expect(await bytesOf(page, 'bar-detailed')).toBe(await bytesOf(page, 'peak-bytes'));
  await expect(page.getByTestId('bar-textbook')).toContainText('params × 4 B × (1+1+2) + activations (Korthikanti et al. 2022)');
  await expect(page.getByTestId('bar-detailed')).toContainText('per-tensor model (framework pytorch)');
  await expect(page.getByTestId('bar-measured')).toHaveCount(0);
  await expect(page.getByTestId('capacity-gpu')).toHaveCount(3);
  await expect(page.getByTestId('plan-bars-legend')).toContainText('params × 16 B (textbook)');
  // The adapter's maxBufferSize is drawn (dashed) or named as off the scale once the engine reports it.
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/, { timeout: 30_000 });
  await expect(chart).toHaveAttribute('aria-label', /maxBufferSize/);

  // A tiny mlp through the form, then Run.
  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('2');
  await expect.poll(() => bytesOf(page, 'bar-detailed')).toBe(await bytesOf(page, 'peak-bytes'));
  await pressRun(page);
  await expect(page.getByTestId('run-result')).toBeVisible();

  const measured = page.getByTestId('bar-measured');
  await expect(measured).toHaveCount(1);
  expect(await bytesOf(page, 'bar-measured')).toBe(await bytesOf(page, 'measured-peak'));
  await expect(measured).toContainText('the ledger');
  await expect(chart).toHaveAttribute('aria-label', /measured /);

  await chart.scrollIntoViewIfNeeded();
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/plan-bars.png', fullPage: true });
});
