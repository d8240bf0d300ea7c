/**
 * Predict, then measure: a guess locked in before a run is shown after it beside the estimate
 * and the measurement, each with its error in %; without a guess the result is unchanged.
 */
import { mkdirSync } from 'node:fs';
import { test, expect } from './fixtures.ts';
import { chooseMlp, pressRun } from './lab.ts';
import type { Page } from '@playwright/test';

async function chooseTinyMlp(page: Page): Promise<void> {
  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('2');
}

async function runAndWait(page: Page): Promise<void> {
  await pressRun(page);
  await expect(page.getByTestId('run-error')).toHaveCount(0);
}

test('a locked guess is compared with the estimate and the measurement after the run', async ({ page }) => {
  test.setTimeout(150_000);
  await page.goto('/');
  await chooseTinyMlp(page);

  const input = page.getByTestId('guess-input');
  const lock = page.getByTestId('lock-guess');
  await expect(lock).toBeDisabled();
  await input.fill('0.01');
  await expect(lock).toBeEnabled();
  await lock.click();
  await expect(input).toBeDisabled();
  await expect(lock).toHaveText('Guess locked');
  await expect(page.getByTestId('guess-note')).toContainText('Locked: 0.01 MiB');

  await runAndWait(page);
  const result = page.getByTestId('guess-result');
  await expect(result).toBeVisible();
  const measured = Number(await page.getByTestId('measured-peak').getAttribute('data-bytes'));
  const estimate = Number(await page.getByTestId('estimated-peak').getAttribute('data-bytes'));
  await expect(page.getByTestId('guess-guess')).toHaveAttribute('data-bytes', String(Math.round(0.01 * 2 ** 20)));
  await expect(page.getByTestId('guess-estimate')).toHaveAttribute('data-bytes', String(estimate));
  await expect(page.getByTestId('guess-measured')).toHaveAttribute('data-bytes', String(measured));
  const err = (100 * (Math.round(0.01 * 2 ** 20) - measured)) / measured;
  const expected = `${err >= 0 ? '+' : '−'}${Math.abs(err).toFixed(1)}%`;
  await expect(page.getByTestId('guess-guess-error')).toHaveText(expected);
  await expect(page.getByTestId('guess-estimate-error')).toHaveText(/^(exact|[+−]\d+\.\d%)$/);

  // Editable again after the run.
  await expect(input).toBeEnabled();
  await expect(lock).toHaveText('Lock in guess');

  await result.scrollIntoViewIfNeeded();
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/predict.png' });

  // A run without a locked guess shows no comparison.
  await runAndWait(page);
  await expect(page.getByTestId('run-result')).toBeVisible();
  await expect(page.getByTestId('guess-result')).toHaveCount(0);
});
