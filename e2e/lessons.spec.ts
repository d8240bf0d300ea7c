/**
 * Each lesson, from a fresh page, runs on the adapter the page finds (SwiftShader here) and
 * shows its effect: at least 30 % in the quantity it teaches, measured. Screenshots of each
 * result at 1440×900 and 390×844 go to test-results/screenshots/.
 */
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';

const LESSONS = ['checkpointing', 'precision', 'attention', 'growth', 'lora'] as const;
/** A bound on one lesson from a fresh page on a software adapter (compiles included). */
const LESSON_BOUND_MS = 240_000;

async function runLesson(page: Page, id: (typeof LESSONS)[number]): Promise<{ ms: number; change: number; predictedMs: number }> {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto('/');
  const lessons = page.getByTestId('lessons');
  await lessons.getByTestId(`lesson-${id}`).click();
  await expect(lessons.getByTestId(`lesson-${id}`)).toHaveAttribute('aria-pressed', 'true');
  const run = lessons.getByTestId('lesson-run');
  await expect(run).toBeEnabled({ timeout: 30_000 });
  // Before it starts, the lesson says what it runs and how long it should take here.
  const plan = lessons.getByTestId('lesson-plan');
  await expect(plan).toContainText(/runs of .* steps each; (about \d+ (s|min)|under a second) on this device/);
  const predictedMs = Number(await plan.getAttribute('data-predicted-ms'));
  expect(predictedMs).toBeGreaterThan(0);
  if (predictedMs > 30_000) await expect(lessons.getByTestId('lesson-long')).toContainText('This lesson takes');
  const t0 = Date.now();
  await run.click();
  // While it runs: a progress bar with the time left, and the other panels wait.
  await expect(lessons.getByTestId('lesson-progress').getByTestId('progress-text')).toContainText(/run \d of \d/);
  await expect(page.getByTestId('run-button')).toBeDisabled();
  await expect(page.getByTestId('run-why')).toContainText('A lesson is running');
  const result = lessons.getByTestId('lesson-result');
  await expect(result).toBeVisible({ timeout: LESSON_BOUND_MS });
  const ms = Date.now() - t0;
  await expect(lessons.getByTestId('lesson-failures')).toHaveCount(0);
  const effect = result.getByTestId('lesson-effect');
  await expect(effect).toBeVisible();
  const change = Number(await effect.getAttribute('data-change'));
  // The run panel is free again.
  await expect(page.getByTestId('run-button')).toBeEnabled();
  await result.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `test-results/screenshots/lesson-${id}-1440.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  await result.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `test-results/screenshots/lesson-${id}-390.png` });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  console.log(`lesson ${id}: ${(ms / 1000).toFixed(1)} s (predicted ${(predictedMs / 1000).toFixed(1)} s), effect ${change.toFixed(1)} %`);
  return { ms, change, predictedMs };
}

for (const id of LESSONS) {
  test(`lesson "${id}" runs from a fresh page and shows an effect of at least 30 %`, async ({ page }) => {
    test.setTimeout(LESSON_BOUND_MS + 60_000);
    const { change } = await runLesson(page, id);
    expect(Math.abs(change)).toBeGreaterThanOrEqual(30);
    const rows = page.getByTestId('lesson-table').locator('tbody tr');
    if (id === 'checkpointing') {
      // Counted compute orders the modes: recomputation is counted work, so none < selective <
      // full ≤ √n (full recomputes each block up to what its backward needs; √n whole segments).
      const flops = async (v: string) => Number(await rows.and(page.locator(`[data-variant="${v}"]`)).getAttribute('data-flops'));
      const [none, selective, sqrt, full] = [await flops('none'), await flops('selective'), await flops('sqrt'), await flops('full')];
      expect(none).toBeGreaterThan(0);
      expect(none).toBeLessThan(selective);
      expect(selective).toBeLessThan(full);
      expect(full).toBeLessThanOrEqual(sqrt);
      expect(change).toBeLessThan(0);
    }
    if (id === 'precision' || id === 'attention' || id === 'lora') expect(change).toBeLessThan(0);
    if (id === 'lora') {
      // Full fine-tuning, LoRA and QLoRA of one scaled Llama, side by side.
      await expect(rows).toHaveCount(3);
      await expect(page.getByTestId('lesson-result')).toContainText('Each run: a Llama decoder');
      await expect(page.getByTestId('lesson-effect')).toContainText(/on the same scaled Llama/);
    }
    if (id === 'growth') expect(change).toBeGreaterThan(0);
  });
}
