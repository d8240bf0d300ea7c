/**
 * GPT runs from the planner form: gpt-nano trains in the page's worker and its measured peak
 * equals the estimate; eager and fused attention measure different activations; gpt2-xl is
 * far too big for SwiftShader, so the panel scales it down (saying by how much) and the
 * scaled model runs, or, with "run scaled down" off, refuses naming the limit. Shapes are
 * tiny and steps few: SwiftShader runs WebGPU on the CPU (gpt-nano at batch 1, seq 16 takes
 * about a second per step).
 */
import { test, expect } from './fixtures.ts';
import { bytesOf, pressRun } from './lab.ts';
import type { Page } from '@playwright/test';

interface GptForm {
  model: string;
  batch: number;
  seq: number;
  attention?: 'eager' | 'fused';
  precision?: 'fp32' | 'amp-fp16' | 'amp-bf16';
  checkpoint?: 'none' | 'full' | 'selective' | 'sqrt';
}

/** Picks a model and fills the settings the GPT run takes from the form. */
async function chooseGpt(page: Page, f: GptForm): Promise<void> {
  await page.getByLabel('model', { exact: true }).selectOption(f.model);
  await page.getByLabel('batch', { exact: true }).fill(String(f.batch));
  await page.getByLabel('sequence length').fill(String(f.seq));
  await page.getByLabel('precision', { exact: true }).selectOption(f.precision ?? 'fp32');
  await page.getByLabel('optimizer', { exact: true }).selectOption('adam');
  await page.getByLabel('checkpointing', { exact: true }).selectOption(f.checkpoint ?? 'none');
  await page.getByLabel('attention', { exact: true }).selectOption(f.attention ?? 'fused');
}

test('gpt-nano from the form: the measured peak equals the estimate, and everything is freed', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await chooseGpt(page, { model: 'gpt-nano', batch: 1, seq: 16 });
  await page.getByTestId('run-steps').fill('2');
  await expect(page.getByTestId('run-blocked')).toHaveCount(0);
  await expect(page.getByTestId('run-fits')).toContainText('Fits this device at full size');
  await expect(page.getByTestId('run-budget')).toContainText('1 GiB');
  await pressRun(page);

  await expect(page.getByTestId('run-error')).toHaveCount(0);
  await expect(page.getByTestId('run-config')).toContainText('gpt vocab 256, d 64, 4 heads, 2 layers, seq 16, fused attention; batch 1');
  const measured = page.getByTestId('measured-peak');
  await expect(measured).toHaveText(/\d/);
  expect(await measured.textContent()).toBe(await page.getByTestId('estimated-peak').textContent());
  expect(await bytesOf(page, 'measured-peak')).toBe(await bytesOf(page, 'estimated-peak'));
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
  await expect(page.getByTestId('live-after-dispose')).toHaveText('0 B');
  await expect(page.getByTestId('run-loss')).toContainText('over 2 steps');
});

test('eager attention keeps more activations than fused, as measured', async ({ page }) => {
  test.setTimeout(150_000);
  await page.goto('/');
  await chooseGpt(page, { model: 'gpt-nano', batch: 1, seq: 16, attention: 'fused' });
  await page.getByTestId('run-steps').fill('1');
  await pressRun(page);
  await expect(page.getByTestId('run-config')).toContainText('fused attention');
  const fused = await bytesOf(page, 'measured-activations');
  expect(fused).toBeGreaterThan(0);

  await page.getByLabel('attention', { exact: true }).selectOption('eager');
  await pressRun(page);
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  await expect(page.getByTestId('run-config')).toContainText('eager attention');
  const eager = await bytesOf(page, 'measured-activations');
  expect(eager).not.toBe(fused);
  expect(eager).toBeGreaterThan(fused);
  expect(eager).toBe(await bytesOf(page, 'estimated-activations'));
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
});

test('gpt2-xl is scaled down to fit this device and the scaled model runs; unticked, it is refused', async ({ page }) => {
  test.setTimeout(150_000);
  await page.goto('/');
  await chooseGpt(page, { model: 'gpt2-xl', batch: 1, seq: 16 });
  await page.getByTestId('run-steps').fill('1');

  const scaled = page.getByTestId('run-scaled');
  await expect(scaled).toContainText(/^Scaled down ×\d+ to fit this device: d 1600→\d+, layers 48→\d+, vocab 50257→\d+/, { timeout: 30_000 });
  const factor = Number(await scaled.getAttribute('data-factor'));
  expect(Number.isInteger(Math.log2(factor)) && factor >= 2).toBe(true);
  await expect(scaled).toContainText(`×${factor}`);
  const toggle = page.getByTestId('run-scaled-toggle');
  await expect(toggle).toBeChecked();

  // Unticked: the full-size model is refused, naming the limit, and Run stays off.
  await toggle.uncheck();
  await expect(page.getByTestId('run-refused')).toContainText(/^Refused at full size: .*(maxStorageBufferBindingSize|maxBufferSize|memory budget)/);
  await expect(page.getByTestId('run-button')).toBeDisabled();

  await toggle.check();
  await expect(page.getByTestId('run-refused')).toHaveCount(0);
  const started = Date.now();
  await pressRun(page);
  const took = Date.now() - started;
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  const d = Math.floor(1600 / factor);
  await expect(page.getByTestId('run-config')).toContainText(`d ${d}, `);
  await expect(page.getByTestId('run-loss')).toContainText('over 1 step');
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
  await expect(page.getByTestId('live-after-dispose')).toHaveText('0 B');
  // One step of the scaled model (its first, which also compiles the pipelines) stays short.
  expect(took).toBeLessThan(60_000);
});

test('models the engine does not run get a sentence naming the ones it does', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('model', { exact: true }).selectOption('bert-base');
  await expect(page.getByTestId('run-blocked')).toHaveText(
    'The engine runs the mlp model, GPT-2-style decoders (gpt-nano, gpt2-small … gpt2-xl or an imported GPT-2 config.json), Llama-style ones (the Llama, Mistral and Qwen2.5 presets or an imported llama, mistral or qwen2 config.json) and the small CNNs (cnn-mnist, cnn-cifar); choose one of those to run it.',
  );
  await expect(page.getByTestId('run-button')).toBeDisabled();
});
