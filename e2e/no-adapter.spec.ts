import { test, expect } from './fixtures.ts';

// Without --enable-unsafe-webgpu and with GPU acceleration off, Chromium offers no adapter
// (or no WebGPU at all): the card must say what to do instead of spinning.
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  },
});

test('with no adapter the card explains how to get one and the planner still works', async ({ page }) => {
  await page.goto('/');
  const error = page.getByTestId('adapter-error');
  await expect(error).toHaveAttribute('role', 'alert');
  await expect(error).toHaveText(/^(WebGPU is not available in this browser: use Chrome\/Edge 113\+|No WebGPU adapter was found: ).*--enable-unsafe-webgpu/);
  await expect(page.getByTestId('adapter-card')).toHaveAttribute('aria-busy', 'false');
  await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
});
