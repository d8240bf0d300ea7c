/**
 * Full-page screenshots of each view, for a person to look at (layout, legibility, dark
 * theme): test-results/screenshots/view-*.png, and the timeline chart on its own. Each test also checks the view is the one it
 * claims, so a screenshot of an error page does not pass unnoticed.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { fillMlpShape, plannerReady, pressRun } from './lab.ts';

const DIR = 'test-results/screenshots';

async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  // Let transitions (progress bar width, focus rings) settle.
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${DIR}/view-${name}.png`, fullPage: true });
}

/** A small LLaMA-family config.json, pasted as a user would. */
const SMALL_LLAMA = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 32000,
  hidden_size: 512,
  intermediate_size: 1376,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  max_position_embeddings: 2048,
  tie_word_embeddings: false,
};

async function tinyRun(page: Page): Promise<void> {
  await fillMlpShape(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('2');
  await pressRun(page);
  await expect(page.getByTestId('measured-peak')).toHaveText(/\d/);
  await expect(page.getByTestId('run-error')).toHaveCount(0);
}

test('planner (default)', async ({ page }) => {
  await plannerReady(page);
  await shoot(page, 'planner');
});

test('planner with an imported config.json', async ({ page }) => {
  await plannerReady(page);
  await page.getByTestId('hf-text').fill(JSON.stringify(SMALL_LLAMA, null, 2));
  await page.getByRole('button', { name: 'Use pasted config' }).click();
  await expect(page.getByTestId('hf-error')).toBeEmpty();
  await expect(page.getByTestId('hf-name')).toHaveText('Imported model: LlamaForCausalLM');
  await expect(page.getByLabel('model', { exact: true })).toHaveValue('hf');
  await expect(page.getByTestId('plan-model')).toContainText('LlamaForCausalLM');
  await shoot(page, 'planner-hf-config');
});

test('run result (tiny mlp)', async ({ page }) => {
  test.setTimeout(120_000);
  await plannerReady(page);
  await tinyRun(page);
  await shoot(page, 'run-result');
  // The chart at full size: the full-page shot is too small to judge its labels.
  await page.getByTestId('timeline-chart').screenshot({ path: `${DIR}/view-run-timeline.png` });
});

test('dark theme: planner and run result', async ({ page }) => {
  test.setTimeout(120_000);
  await page.emulateMedia({ colorScheme: 'dark' });
  await plannerReady(page);
  expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(true);
  await shoot(page, 'planner-dark');
  await tinyRun(page);
  await shoot(page, 'run-result-dark');
  await page.getByTestId('timeline-chart').screenshot({ path: `${DIR}/view-run-timeline-dark.png` });
});
