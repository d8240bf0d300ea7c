/**
 * The image families on the page: each family's presets are offered under its own group, and
 * the form shows the inputs that matter for it (resolution, images, steps and offload).
 */
import { test, expect } from './fixtures.ts';

const peak = async (page: import('@playwright/test').Page) => Number(await page.getByTestId('peak-bytes').getAttribute('data-bytes'));

test('the model list offers the vision, VLM, EfficientNet, diffusion and GAN presets in their groups', async ({ page }) => {
  await page.goto('/');
  const model = page.getByTestId('field-model');
  for (const [group, ids] of [
    ['Vision transformers', ['vit-base-16', 'clip-vit-l-14']],
    ['Vision-language', ['llava-1.5-7b', 'qwen2-vl-7b']],
    ['EfficientNet', ['efficientnet-b0', 'efficientnet-b7']],
    ['Diffusion pipelines', ['sd-1.5', 'sdxl', 'flux-dev']],
    ['GAN', ['dcgan']],
  ] as const) {
    for (const id of ids) await expect(model.locator(`optgroup[label="${group}"] option[value="${id}"]`)).toHaveCount(1);
  }
});

test('a diffusion pipeline shows its resolution, steps and offload; offload lowers the peak', async ({ page }) => {
  await page.goto('/?mode=inference&p=fp16&b=1');
  await page.getByTestId('field-model').selectOption('sdxl');
  // The form starts an image model at the resolution it was trained at.
  await expect(page.getByLabel('resolution (px)')).toHaveValue('1024');
  await expect(page.getByLabel('sequence length')).toHaveCount(0);
  await expect(page.getByTestId('field-steps')).toBeVisible();
  const before = await peak(page);
  await page.getByTestId('field-pipelineOffload').selectOption('model');
  await expect.poll(() => peak(page)).toBeLessThan(before);
  await expect(page).toHaveURL(/po=model/);
});

test('a VLM shows images per sample and its text tokens; more images, more memory', async ({ page }) => {
  await page.goto('/?mode=inference&p=fp16&b=1');
  await page.getByTestId('field-model').selectOption('llava-1.5-7b');
  await expect(page.getByLabel('image size (px)')).toHaveValue('336');
  await expect(page.getByLabel('text tokens')).toBeVisible();
  const images = page.getByTestId('field-images');
  const before = await peak(page);
  await images.fill('4');
  await expect.poll(() => peak(page)).toBeGreaterThan(before);
});
