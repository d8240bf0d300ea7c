/**
 * The headline bars: the textbook rule and the detailed estimate agree with the breakdown's
 * numbers; a run's measurement stays out of them (it belongs beside the estimate of the
 * measured, often scaled-down, configuration, in the run panel).
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

test('the default model draws the textbook and detailed bars and GPU lines, and a run adds no measured bar', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  const chart = page.getByTestId('plan-bars');
  await expect(chart).toBeVisible();
  await expect(chart).toHaveAttribute('role', 'img');
  await expect(chart).toHaveAttribute('aria-label', /^Peak memory: textbook .+, detailed .+\. GPU lines: RTX 4090 24 GB .+/);

  await expect(page.getByTestId('bar-textbook')).toHaveAttribute('data-bytes', /^\d+$/);
  expect(await bytesOf(page, 'bar-textbook')).toBe(await textbookBytes(page));
  expect(await bytesOf(page, 'bar-detailed')).toBe(await bytesOf(page, 'peak-bytes'));
  // The detailed bar carries the overheads the fit check adds: its total is the breakdown's total.
  expect(Number(await page.getByTestId('bar-detailed').getAttribute('data-total'))).toBe(
    await page.evaluate(() => {
      const b = document.querySelector('vl-app')?.shadowRoot?.querySelector('vl-plan-breakdown') as (HTMLElement & { plan: { totalBytes: number } | null }) | null;
      return b?.plan?.totalBytes ?? Number.NaN;
    }),
  );
  await expect(page.getByTestId('bar-textbook')).toContainText('params × 4 B × (1+1+2) + activations (Korthikanti et al. 2022)');
  await expect(page.getByTestId('bar-detailed')).toContainText('per-tensor model (framework pytorch)');
  await expect(page.getByTestId('bar-measured')).toHaveCount(0);
  // The chosen card, and the catalog sizes just below and above the bars.
  await expect(page.getByTestId('capacity-chosen')).toHaveCount(1);
  await expect(page.getByTestId('capacity-gpu')).toHaveCount(2);
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

  // The run measured a tiny mlp; the plan chart keeps to the plan's estimates.
  await expect(page.getByTestId('measured-peak')).toHaveText(/\d/);
  await expect(page.getByTestId('bar-measured')).toHaveCount(0);
  await expect(chart).not.toHaveAttribute('aria-label', /measured/);

  await chart.scrollIntoViewIfNeeded();
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/plan-bars.png', fullPage: true });
});
