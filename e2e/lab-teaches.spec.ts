/**
 * The lab teaches like for like: a measurement sits only beside estimates of the configuration
 * that ran (a scaled run says so), a settings change marks it stale, predicting hides the
 * estimates until the guess is locked, the timeline names the tensors alive where pointed,
 * focus and a live region follow a finished run, and one panel runs at a time.
 */
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { chooseMlp, pressRun } from './lab.ts';

async function tinyMlp(page: Page): Promise<void> {
  await page.goto('/');
  await chooseMlp(page, { d: 8, hidden: 16, layers: 2, batch: 4 });
  await page.getByTestId('run-steps').fill('2');
}

test('a scaled-down GPT-2 is measured beside the estimates of the scaled model, named as such', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await page.getByLabel('model', { exact: true }).selectOption('gpt2-small');
  await page.getByTestId('run-steps').fill('2');
  await expect(page.getByTestId('run-scaled')).toBeVisible({ timeout: 30_000 });
  await pressRun(page);
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  const factor = await page.getByTestId('run-scaled').getAttribute('data-factor');
  await expect(page.getByTestId('run-result-scaled')).toHaveAttribute('data-factor', factor!);
  await expect(page.getByTestId('run-result-scaled')).toContainText(`scaled down ×${factor}`);
  // The measured bar and the engine's estimate are of the same configuration: equal to the byte.
  const compare = page.getByTestId('run-compare');
  const measured = Number(await compare.locator('g[data-row="measured"]').getAttribute('data-bytes'));
  const vramlab = Number(await compare.locator('g[data-row="vramlab"]').getAttribute('data-bytes'));
  expect(measured).toBeGreaterThan(0);
  expect(vramlab).toBe(measured);
  await expect(compare.locator('g[data-row="pytorch"]')).toHaveCount(1);
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
  // The run's own config line names the scaled shape, not GPT-2 small's d 768.
  await expect(page.getByTestId('run-config')).not.toContainText('d 768');
});

test('changing a setting after a run marks the measurement stale', async ({ page }) => {
  test.setTimeout(120_000);
  await tinyMlp(page);
  await pressRun(page);
  await expect(page.getByTestId('run-result')).toHaveAttribute('data-stale', 'false');
  await expect(page.getByTestId('run-stale')).toHaveCount(0);
  await page.getByLabel('batch', { exact: true }).fill('8');
  await expect(page.getByTestId('run-result')).toHaveAttribute('data-stale', 'true');
  await expect(page.getByTestId('run-stale')).toContainText('the settings have changed since');
  await page.getByLabel('batch', { exact: true }).fill('4');
  await expect(page.getByTestId('run-result')).toHaveAttribute('data-stale', 'false');
});

test('after Run, focus moves to the result and a live region says what was measured; the timeline names the tensors alive', async ({ page }) => {
  test.setTimeout(120_000);
  await tinyMlp(page);
  await pressRun(page);
  await expect(page.getByTestId('run-announce')).toContainText(/^Run finished: measured peak .+, estimate .+, an exact match\.$/);
  await expect.poll(() => page.evaluate(() => {
    let el: Element | null = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return el?.getAttribute('data-testid') ?? '';
  })).toBe('run-result');
  const svg = page.getByTestId('timeline-svg');
  // The estimate overlay sits on the ledger's ops, not spread evenly.
  await expect(svg).toHaveAttribute('data-aligned', 'ops');
  const box = (await svg.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const readout = page.getByTestId('timeline-readout');
  await expect(readout).toHaveAttribute('data-index', /\d+/);
  // Largest first; on a tiny mlp the loss workspace (the mean and the cross-entropy partials, 1 KiB) can lead.
  await expect(readout.locator('li').filter({ hasText: /(weights|activations|optimizer states|gradients).*B/ }).first()).toBeVisible();
  // The keyboard moves the same cursor.
  await svg.focus();
  await page.keyboard.press('Home');
  await expect(readout).toHaveAttribute('data-index', '0');
  await page.keyboard.press('ArrowRight');
  await expect(readout).toHaveAttribute('data-index', '1');
});

test('predicting hides the estimates until the guess is locked', async ({ page }) => {
  test.setTimeout(120_000);
  await tinyMlp(page);
  await expect(page.getByTestId('estimates-hidden')).toHaveCount(0);
  await page.getByTestId('predict-toggle').click();
  await expect(page.getByTestId('estimates-hidden')).toBeVisible();
  await page.getByTestId('guess-input').fill('0.05');
  await page.getByTestId('lock-guess').click();
  await expect(page.getByTestId('estimates-hidden')).toHaveCount(0);
  await pressRun(page);
  await expect(page.getByTestId('guess-result')).toBeVisible();
  await expect(page.getByTestId('guess-measured')).toHaveAttribute('data-bytes', (await page.getByTestId('measured-peak').getAttribute('data-bytes'))!);
});

test('one panel runs at a time: while Run trains, lessons and experiments wait and say why', async ({ page }) => {
  test.setTimeout(120_000);
  await tinyMlp(page);
  await page.getByTestId('run-steps').fill('1000');
  await expect(page.getByTestId('run-button')).toBeEnabled({ timeout: 30_000 });
  await page.getByTestId('run-button').click();
  await expect(page.getByTestId('run-progress')).toBeVisible();
  await expect(page.getByTestId('lesson-run')).toBeDisabled();
  await expect(page.getByTestId('lesson-blocked')).toContainText('A run is in progress');
  await expect(page.getByTestId('tradeoff-run')).toBeDisabled();
  await expect(page.getByTestId('tradeoff-run-why')).toContainText('A run is in progress');
  await page.getByTestId('cancel-button').click();
  await expect(page.getByTestId('run-cancelled')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('lesson-run')).toBeEnabled();
  await expect(page.getByTestId('tradeoff-run')).toBeEnabled();
});
