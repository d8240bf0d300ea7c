/**
 * The Run panel as a user drives it: the planner form picks the mlp and its shape, Run trains
 * it in the page's worker, and the page shows the measurement beside the estimate. Shapes are
 * tiny because SwiftShader runs WebGPU on the CPU.
 */
import { mkdirSync } from 'node:fs';
import { test, expect } from './fixtures.ts';
import { bytesOf, chooseMlp, pressRun, type MlpChoice } from './lab.ts';

test('a tiny mlp run from the form matches its estimate, frees everything and draws the timeline', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await chooseMlp(page, { d: 16, hidden: 32, layers: 2, batch: 4 });
  await page.getByTestId('run-steps').fill('3');
  await pressRun(page);

  await expect(page.getByTestId('run-error')).toHaveCount(0);
  const measured = page.getByTestId('measured-peak');
  await expect(measured).toHaveText(/\d/);
  expect(await measured.textContent()).toBe(await page.getByTestId('estimated-peak').textContent());
  expect(await bytesOf(page, 'measured-peak')).toBe(await bytesOf(page, 'estimated-peak'));
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
  await expect(page.getByTestId('live-after-dispose')).toHaveText('0 B');
  await expect(page.getByTestId('timing-source')).toHaveText(/^(GPU timestamp queries|wall clock)$/);
  await expect(page.getByTestId('timing-record')).toHaveText(/^[\d.,]+ ms$/);
  await expect(page.getByTestId('run-loss')).toContainText('over 3 steps');

  const svg = page.getByTestId('timeline-svg');
  await expect(svg).toHaveAttribute('role', 'img');
  await expect(svg).toHaveAttribute('aria-label', /measured peak .+ estimated peak/);
  expect(await svg.locator('path.area').count()).toBeGreaterThan(0);
  expect(await svg.locator('rect.phase').count()).toBeGreaterThan(0);
  await expect(svg.locator('polyline.estimate')).toHaveCount(1);

  await page.getByTestId('run-result').scrollIntoViewIfNeeded();
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/lab-run.png', fullPage: true });
});

test('full checkpointing lowers the measured activations, and amp-bf16 halves them', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  const shape: MlpChoice = { d: 16, hidden: 32, layers: 3, batch: 4 };
  await chooseMlp(page, shape);
  await page.getByTestId('run-steps').fill('2');

  await pressRun(page);
  const fp32 = await bytesOf(page, 'measured-activations');
  expect(fp32).toBeGreaterThan(0);

  await page.getByLabel('checkpointing', { exact: true }).selectOption('full');
  await pressRun(page);
  await expect(page.getByTestId('run-config')).toContainText('checkpointing full');
  const full = await bytesOf(page, 'measured-activations');
  expect(full).toBeLessThan(fp32);
  expect(await bytesOf(page, 'measured-activations')).toBe(await bytesOf(page, 'estimated-activations'));

  await page.getByLabel('checkpointing', { exact: true }).selectOption('none');
  await page.getByLabel('precision', { exact: true }).selectOption('amp-bf16');
  await pressRun(page);
  await expect(page.getByTestId('run-config')).toContainText('amp-bf16');
  const bf16 = await bytesOf(page, 'measured-activations');
  expect(bf16 * 2).toBe(fp32);
  await expect(page.getByTestId('measured-activations')).toHaveAttribute('title', /^[\d,]+ B$/);
});

test('a config too large for the device shows the BufferTooLarge sentence, and the next tiny run works', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await chooseMlp(page, { d: 100_000, hidden: 100_000, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('1');
  await pressRun(page);
  const alert = page.getByTestId('run-error');
  await expect(alert).toHaveAttribute('role', 'alert');
  await expect(alert).toHaveAttribute('data-error', 'BufferTooLarge');
  await expect(alert).toContainText(/maxStorageBufferBindingSize|maxBufferSize/);

  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await pressRun(page);
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  await expect(page.getByTestId('live-after-dispose')).toHaveText('0 B');
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
});

test('Cancel stops a long run between steps and says nothing is left allocated', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('1000');
  await expect(page.getByTestId('run-button')).toBeEnabled({ timeout: 30_000 });
  await page.getByTestId('run-button').click();
  const progress = page.getByTestId('run-progress');
  await expect(progress.getByRole('progressbar')).toHaveAttribute('aria-valuemax', '100');
  // Progress names the step and the loss, and says how long is left.
  await expect(progress.getByTestId('progress-text')).toHaveText(/^step \d+\/1000, loss \S+ — \d+%, (about \d+ (s|min)|under a second) left$/);
  await page.getByTestId('cancel-button').click();
  await expect(page.getByTestId('run-cancelled')).toHaveText('Cancelled; nothing is left allocated.', { timeout: 30_000 });
  await expect(page.getByTestId('run-button')).toBeEnabled();
});

test('Cancel pressed the moment it is enabled, before the run has reached the worker, stops it', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('1000');
  await expect(page.getByTestId('run-button')).toBeEnabled({ timeout: 30_000 });
  // Both presses in one task of the page: Cancel as soon as the panel has drawn it enabled,
  // while the page still checks that the worker is alive before it sends the run.
  const cancelWasEnabled = await page.evaluate(async () => {
    const find = (root: ParentNode, id: string): HTMLElement | null => {
      const hit = root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
      if (hit) return hit;
      for (const el of root.querySelectorAll('*')) {
        const inner = el.shadowRoot ? find(el.shadowRoot, id) : null;
        if (inner) return inner;
      }
      return null;
    };
    (find(document, 'run-button') as HTMLButtonElement).click();
    const panel = (find(document, 'run-panel')!.getRootNode() as ShadowRoot).host as HTMLElement & { updateComplete: Promise<unknown> };
    await panel.updateComplete;
    const cancel = find(document, 'cancel-button') as HTMLButtonElement;
    const enabled = !cancel.disabled;
    cancel.click();
    return enabled;
  });
  expect(cancelWasEnabled).toBe(true);
  await expect(page.getByTestId('run-cancelled')).toHaveText('Cancelled; nothing is left allocated.', { timeout: 15_000 });
  await expect(page.getByTestId('cancel-button')).toHaveText('Cancel');
  await expect(page.getByTestId('run-button')).toBeEnabled();
});

test('the panel says why it cannot run: another model, an unsupported setting, bad steps', async ({ page }) => {
  await page.goto('/');
  // A model the engine does not run (the default, gpt2-small, runs as a GPT; the Llama presets run too).
  await page.getByLabel('model', { exact: true }).selectOption('bert-base');
  await expect(page.getByTestId('run-blocked')).toContainText('The engine runs the mlp model, GPT-2-style decoders');
  await expect(page.getByTestId('run-button')).toBeDisabled();

  await chooseMlp(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByLabel('optimizer', { exact: true }).selectOption('adafactor');
  await expect(page.getByTestId('run-blocked')).toHaveText('optimizer adafactor: the engine runs sgd, sgd-momentum, adam or adamw.');
  await page.getByLabel('checkpointing', { exact: true }).selectOption('selective');
  await expect(page.getByTestId('run-blocked')).toContainText('checkpointing selective: the engine runs none, full or sqrt.');
  await expect(page.getByTestId('run-button')).toBeDisabled();

  await page.getByLabel('optimizer', { exact: true }).selectOption('adam');
  await page.getByLabel('checkpointing', { exact: true }).selectOption('none');
  await page.getByLabel('optimizer', { exact: true }).selectOption('adam');
  await expect(page.getByTestId('run-blocked')).toHaveCount(0);
  const steps = page.getByTestId('run-steps');
  await steps.fill('0');
  await expect(page.getByTestId('run-steps-error')).toHaveText('steps must be at least 1');
  await expect(steps).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('run-button')).toBeDisabled();
  await steps.fill('5000');
  await expect(page.getByTestId('run-steps-error')).toContainText('at most 1000');
  await steps.fill('3');
  await expect(page.getByTestId('run-steps-error')).toBeEmpty();
  await expect(page.getByTestId('run-button')).toBeEnabled({ timeout: 30_000 });
});

test('cnn-mnist from the form runs on the engine: the ledger equals its estimate, with the timeline and the PyTorch estimate beside it', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto('/');
  await page.getByLabel('model', { exact: true }).selectOption('cnn-mnist');
  await page.getByLabel('batch', { exact: true }).fill('2');
  await page.getByLabel('precision', { exact: true }).selectOption('fp32');
  await page.getByLabel('checkpointing', { exact: true }).selectOption('none');
  await page.getByLabel('optimizer', { exact: true }).selectOption('adam');
  await expect(page.getByTestId('run-blocked')).toHaveCount(0);
  await page.getByTestId('run-steps').fill('2');
  await expect(page.getByTestId('run-fits')).toContainText('Fits this device at full size');
  await pressRun(page);

  await expect(page.getByTestId('run-error')).toHaveCount(0);
  await expect(page.getByTestId('run-config')).toContainText('cnn-mnist LeNet-5, 1×28×28 images; batch 2; fp32; adam; checkpointing none; 2 steps');
  expect(await bytesOf(page, 'measured-peak')).toBeGreaterThan(0);
  expect(await bytesOf(page, 'measured-peak')).toBe(await bytesOf(page, 'estimated-peak'));
  expect(await bytesOf(page, 'measured-activations')).toBe(await bytesOf(page, 'estimated-activations'));
  await expect(page.getByTestId('difference-peak')).toHaveText('exact');
  await expect(page.getByTestId('live-after-dispose')).toHaveText('0 B');
  await expect(page.getByTestId('run-loss')).toContainText('over 2 steps');
  const svg = page.getByTestId('timeline-svg');
  expect(await svg.locator('path.area').count()).toBeGreaterThan(0);
  await expect(svg.locator('polyline.estimate')).toHaveCount(1);
  await page.getByTestId('run-result').scrollIntoViewIfNeeded();
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.getByTestId('run-panel').screenshot({ path: 'test-results/screenshots/lab-run-cnn.png' });
});
