import { test, expect } from './fixtures.ts';

test('the adapter card describes the WebGPU adapter from the worker', async ({ page }) => {
  await page.goto('/');
  const card = page.getByTestId('adapter-card');
  await expect(card).toBeVisible();
  // Under headless Chromium with --enable-unsafe-webgpu this is SwiftShader; on a real GPU, the GPU.
  await expect(card.getByTestId('adapter-name')).toHaveText(/\S/);
  await expect(card.getByTestId('adapter-vendor')).toHaveText(/\S/);
  await expect(card).toHaveAttribute('aria-busy', 'false');

  // Features and the less used limits are folded away.
  await card.getByText(/More limits and \d+ features/).click();
  const features = card.getByTestId('adapter-features').locator('li');
  await expect(features.first()).toBeVisible();
  expect(await features.count()).toBeGreaterThan(0);

  const maxBuffer = card.getByTestId('limit-maxBufferSize');
  await expect(maxBuffer).toHaveText(/\d/);
  expect(Number(await maxBuffer.getAttribute('data-value'))).toBeGreaterThan(0);
  for (const limit of ['maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage']) {
    expect(Number(await card.getByTestId(`limit-${limit}`).getAttribute('data-value')), limit).toBeGreaterThan(0);
  }
  await expect(card.getByTestId('adapter-error')).toHaveCount(0);
  await expect(card.getByTestId('device-errors')).toHaveCount(0);
});
