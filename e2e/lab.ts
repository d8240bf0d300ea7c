/** What the lab's e2e specs do through the page's own controls. */
import type { Page } from '@playwright/test';
import { expect } from './fixtures.ts';

export interface MlpShape {
  d: number;
  hidden: number;
  layers: number;
  batch: number;
}

export interface MlpChoice extends MlpShape {
  precision?: 'fp32' | 'amp-fp16' | 'amp-bf16';
  checkpoint?: 'none' | 'full' | 'sqrt';
  optimizer?: string;
}

/** The page is up: the breakdown shows a plan and the adapter card is filled. */
export async function plannerReady(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByTestId('peak-bytes')).toContainText(/B/);
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/, { timeout: 30_000 });
}

/** Picks the mlp and fills its shape; the step's other settings stay as the form has them. */
export async function fillMlpShape(page: Page, s: MlpShape): Promise<void> {
  await page.getByLabel('model', { exact: true }).selectOption('mlp');
  await page.getByLabel('width d').fill(String(s.d));
  await page.getByLabel('hidden', { exact: true }).fill(String(s.hidden));
  await page.getByLabel('layers', { exact: true }).fill(String(s.layers));
  await page.getByLabel('batch', { exact: true }).fill(String(s.batch));
}

/** Picks the mlp with its shape and sets precision, checkpointing and optimizer (fp32, none, adam unless given). */
export async function chooseMlp(page: Page, s: MlpChoice): Promise<void> {
  await fillMlpShape(page, s);
  await page.getByLabel('precision', { exact: true }).selectOption(s.precision ?? 'fp32');
  await page.getByLabel('checkpointing', { exact: true }).selectOption(s.checkpoint ?? 'none');
  await page.getByLabel('optimizer', { exact: true }).selectOption(s.optimizer ?? 'adam');
}

async function finishedRuns(page: Page): Promise<number> {
  return Number(await page.getByTestId('run-panel').getAttribute('data-finished'));
}

/** Presses Run and waits until that run has ended (result, error or cancel). */
export async function pressRun(page: Page): Promise<void> {
  const before = await finishedRuns(page);
  const run = page.getByTestId('run-button');
  await expect(run).toBeEnabled({ timeout: 30_000 });
  await run.click();
  await expect.poll(() => finishedRuns(page), { timeout: 90_000 }).toBeGreaterThan(before);
}

/** The exact byte count an element carries in data-bytes. */
export async function bytesOf(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute('data-bytes'));
}
