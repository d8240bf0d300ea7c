import { mkdirSync } from 'node:fs';
import { test, expect } from './fixtures.ts';
import type { Page } from '@playwright/test';

async function peakBytes(page: Page): Promise<number> {
  return Number(await page.getByTestId('peak-bytes').getAttribute('data-bytes'));
}

test('the default model gets a breakdown, and a larger batch raises the peak', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('vramlab');
  const breakdown = page.getByTestId('plan-breakdown');
  await expect(breakdown).toBeVisible();
  await expect(page.getByTestId('plan-model')).toHaveText(/\S/);
  await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
  await expect(page.getByTestId('category-table').locator('tbody tr').first()).toBeVisible();
  await expect(page.getByTestId('textbook')).toContainText('GiB');
  await expect(page.getByTestId('fit-list').locator('li').first()).toBeVisible();
  await expect(page.getByTestId('terms').locator('tbody tr').first()).toBeVisible();
  await expect(page.getByTestId('config-error')).toBeEmpty();

  const before = await peakBytes(page);
  expect(before).toBeGreaterThan(0);
  const batch = page.getByLabel('batch', { exact: true });
  await batch.fill('32');
  await expect.poll(() => peakBytes(page)).toBeGreaterThan(before);

  // Wait for the adapter card too, so the screenshot shows the whole page settled.
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/);
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/planner.png', fullPage: true });
});

test('an invalid value shows the schema message in an alert and dims the stale plan', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('plan-breakdown')).toBeVisible();
  const batch = page.getByLabel('batch', { exact: true });
  await batch.fill('0');

  const alert = page.getByTestId('config-error');
  await expect(alert).toHaveAttribute('role', 'alert');
  await expect(alert).toHaveText('batch: batch must be at least 1');
  await expect(batch).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('vl-plan-breakdown')).toHaveAttribute('stale', '');
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/planner-invalid.png' });

  await batch.fill('4');
  await expect(alert).toBeEmpty();
  await expect(batch).toHaveAttribute('aria-invalid', 'false');
  await expect(page.locator('vl-plan-breakdown')).not.toHaveAttribute('stale');
});

test('choosing the mlp shows its shape fields and is keyboard-usable', async ({ page }) => {
  await page.goto('/');
  const model = page.getByLabel('model', { exact: true });
  await expect(page.getByLabel('width d')).toHaveCount(0);
  await model.focus();
  await model.selectOption('mlp');
  await expect(page.getByLabel('width d')).toBeVisible();
  await expect(page.getByTestId('plan-model')).toContainText(/mlp/i);

  const layers = page.getByLabel('layers', { exact: true });
  const before = Number(await page.getByTestId('peak-bytes').getAttribute('data-bytes'));
  await layers.focus();
  await page.keyboard.press('ArrowUp');
  await expect.poll(async () => Number(await page.getByTestId('peak-bytes').getAttribute('data-bytes'))).toBeGreaterThan(before);
});

test('every control explains itself on hover and while it has focus', async ({ page }) => {
  await page.goto('/');
  const batch = page.getByTestId('field-batch');
  await expect(batch).toHaveAttribute('title', /Samples per GPU/);
  const hint = page.locator('vl-plan-form').locator('#hint-batch');
  await expect(hint).toBeHidden();
  await batch.focus();
  await expect(hint).toBeVisible();
  await expect(hint).toHaveText(/Samples per GPU per optimizer step/);
  // ZeRO is offered with more than one GPU.
  await page.getByLabel('GPUs', { exact: true }).fill('2');
  for (const key of ['model', 'gpu', 'precision', 'optimizer', 'checkpoint', 'attention', 'loraRank', 'zero', 'gpus', 'framework']) {
    await expect(page.getByTestId(`field-${key}`), key).toHaveAttribute('title', /\w/);
  }
});
