import { test, expect } from './fixtures.ts';

const NEW_PRESETS = ['mixtral-8x7b', 'qwen3-30b-a3b', 'deepseek-v3', 'gpt-oss-20b', 'gemma-3-4b', 'falcon-7b', 'falcon-40b', 'phi-3-mini'];

test('the model list offers the new decoder families, and a MoE shows total and active parameters', async ({ page }) => {
  await page.goto('/');
  const model = page.getByLabel('model', { exact: true });
  const decoders = model.locator('optgroup[label="Decoder LLMs"] option');
  for (const id of NEW_PRESETS) await expect(decoders.locator(`xpath=self::*[@value="${id}"]`)).toHaveCount(1);

  await model.selectOption('mixtral-8x7b');
  await expect(page.getByTestId('plan-model')).toHaveText(/Mixtral 8x7B/);
  // All experts are resident: the memory is sized by the 46.7B, compute by the 12.9B.
  await expect(page.getByTestId('plan-params')).toContainText('46.7B parameters (46,702,792,704)');
  await expect(page.getByTestId('plan-params')).toContainText('12.88B active per token (all resident)');

  await model.selectOption('llama-3.1-8b');
  await expect(page.getByTestId('plan-params')).not.toContainText('active per token');
});
