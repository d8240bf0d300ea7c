/**
 * The page's state in the URL, and untrusted text the user hands it: a shared link with bad
 * or hostile values, and a pasted config.json. The page must stay up, say what was wrong,
 * fall back to defaults, and render every piece of user text as text.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { DEFAULT_PLAN } from '../src/protocol/config.ts';

declare global {
  interface Window {
    /** Set only by a payload that managed to run. */
    __pwned?: unknown;
  }
}

/** Fails the test if anything opens a dialog (alert/confirm/prompt), i.e. injected script ran. */
function watchDialogs(page: Page): string[] {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  return dialogs;
}

/** Nothing the user supplied became markup: no script, img or iframe anywhere in the app (shadow roots included). */
async function expectNoInjectedElements(page: Page): Promise<void> {
  await expect(page.locator('vl-app').locator('script, img, iframe, object, embed')).toHaveCount(0);
  expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
}

test('the plan lives in the URL: a changed batch survives a reload', async ({ page }) => {
  await page.goto('/');
  const batch = page.getByLabel('batch', { exact: true });
  await expect(batch).toHaveValue(String(DEFAULT_PLAN.batch));
  await batch.fill('32');
  await expect(page).toHaveURL(/[?&]b=32(&|$)/);

  await page.reload();
  await expect(page.getByLabel('batch', { exact: true })).toHaveValue('32');
  await expect(page.getByTestId('url-problems')).toHaveCount(0);

  // Back to the default: the parameter leaves the URL (only non-default fields are written).
  await page.getByLabel('batch', { exact: true }).fill(String(DEFAULT_PLAN.batch));
  await expect(page).not.toHaveURL(/[?&]b=/);
});

test('the chosen GPU lives in the URL: a catalog card survives a reload, the default card writes nothing', async ({ page }) => {
  await page.goto('/');
  const gpu = page.getByLabel('your GPU', { exact: true });
  await expect(gpu).toHaveValue('rtx-4090');
  await gpu.selectOption('a100-80gb');
  await expect(page).toHaveURL(/[?&]gpu=a100-80gb(&|$)/);
  await page.reload();
  await expect(page.getByLabel('your GPU', { exact: true })).toHaveValue('a100-80gb');
  await expect(page.getByTestId('verdict')).toContainText('A100 80 GB');
  await expect(page.getByTestId('url-problems')).toHaveCount(0);
  await page.getByLabel('your GPU', { exact: true }).selectOption('rtx-4090');
  await expect(page).not.toHaveURL(/gpu=/);

  // A link naming a card and a custom size keeps the size and says so.
  await page.goto('/?gpu=h200&gm=12');
  await expect(page.getByTestId('url-problems')).toContainText("'gpu' (GPU)");
  await expect(page.getByTestId('verdict')).toContainText('your GPU (12 GiB)');
});

test('a hostile URL shows what was wrong, uses the defaults and runs nothing', async ({ page }) => {
  const dialogs = watchDialogs(page);
  const script = '<script>alert(1);window.__pwned=1</script>';
  const query = `b=-1&p=${encodeURIComponent(script)}&m=%00%00%00${'x'.repeat(200)}&s=1e99&gpu=${encodeURIComponent('<svg onload=alert(3)>')}&zzz=<img src=x onerror=alert(2)>`;
  await page.goto(`/?${query}`);

  const notice = page.getByTestId('url-problems');
  await expect(notice.getByRole('alert')).toBeVisible();
  await expect(notice).toContainText('could not be used');
  await expect(notice).toContainText("'b' (batch)");
  await expect(notice).toContainText("'p' (precision)");
  await expect(notice).toContainText("'m' (model)");
  await expect(notice).toContainText("'s' (sequence length)");
  await expect(notice).toContainText("'gpu' (GPU)");
  // The hostile value is quoted as text, not parsed as markup.
  await expect(notice).toContainText('<script>alert(1);');

  await expect(page.getByLabel('batch', { exact: true })).toHaveValue(String(DEFAULT_PLAN.batch));
  await expect(page.getByLabel('sequence length')).toHaveValue(String(DEFAULT_PLAN.seq));
  await expect(page.getByTestId('field-precision')).toHaveValue(DEFAULT_PLAN.precision);
  await expect(page.getByLabel('model', { exact: true })).toHaveValue(DEFAULT_PLAN.model);
  // The page still works: an estimate for the defaults, and the engine found its adapter.
  await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
  await expect(page.getByTestId('verdict')).toContainText('RTX 4090 24 GB');
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/);

  await expectNoInjectedElements(page);
  expect(dialogs).toEqual([]);
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/url-problems.png', fullPage: true });

  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await expect(notice).toHaveCount(0);
});

test('a hostile config.json is refused with a message naming the field, and its name stays text', async ({ page }) => {
  const dialogs = watchDialogs(page);
  await page.goto('/');
  const text = page.getByTestId('hf-text');
  const apply = page.getByRole('button', { name: 'Use pasted config' });
  const error = page.getByTestId('hf-error');
  const payload = '<img src=x onerror=window.__pwned=1>';

  // Not JSON at all.
  await text.fill('{"model_type": "llama", "hidden_size": ');
  await apply.click();
  await expect(error).toHaveAttribute('role', 'alert');
  await expect(error).toHaveText(/^The pasted text is not valid JSON: /);

  // JSON, but huge numbers and wrong types under a hostile class name.
  const hostile = {
    model_type: 'llama',
    architectures: [payload],
    vocab_size: 1e300,
    hidden_size: '4096',
    num_hidden_layers: -1,
    num_attention_heads: { toString: 1 },
    intermediate_size: [1e308],
  };
  // JSON.parse makes "__proto__" an own key; it must not reach Object.prototype.
  await text.fill(JSON.stringify(hostile).replace(/}$/, ',"__proto__":{"polluted":true}}'));
  await apply.click();
  await expect(error).toHaveText(/^config\.json: vocab_size: /);
  await expect(page.getByTestId('hf-name')).toHaveCount(0);
  await expectNoInjectedElements(page);

  // A valid shape with the payload in its (llama-family) class name: accepted, and the name shown literally.
  const named = {
    model_type: 'llama',
    architectures: [`Llama${payload}ForCausalLM`],
    vocab_size: 32000,
    hidden_size: 256,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 688,
  };
  await text.fill(JSON.stringify(named));
  await apply.click();
  await expect(error).toBeEmpty();
  await expect(page.getByTestId('hf-name')).toHaveText(`Imported model: Llama${payload}ForCausalLM`);
  await expect(page.getByLabel('model', { exact: true })).toHaveValue('hf');
  await expect(page.getByTestId('plan-model')).toContainText(`Llama${payload}ForCausalLM`);
  await expect(page.getByTestId('peak-bytes')).toContainText(/B/);
  await expectNoInjectedElements(page);
  expect(dialogs).toEqual([]);
  expect(await page.evaluate(() => ({} as Record<string, unknown>).polluted)).toBeUndefined();
});

test('a config.json over the size limit is refused before it is parsed; a small one is imported from a file or a drop', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('config.json file').setInputFiles({
    name: 'model.safetensors',
    mimeType: 'application/json',
    buffer: Buffer.alloc(2 * 1024 * 1024, 0x20),
  });
  await expect(page.getByTestId('hf-error')).toHaveText(/^The file "model\.safetensors" is 2(\.\d+)? MiB, over the 1 MiB limit/);
  await expect(page.getByLabel('model', { exact: true })).toHaveValue(DEFAULT_PLAN.model);

  // A small file from the same input works.
  const config = { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_embd: 128, n_layer: 2, n_head: 4 };
  await page.getByLabel('config.json file').setInputFiles({ name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(config)) });
  await expect(page.getByTestId('hf-name')).toHaveText('Imported model: GPT2LMHeadModel');
  await expect(page.getByTestId('hf-error')).toBeEmpty();

  // A file dropped on the zone goes the same way.
  const dropped = { ...config, architectures: ['GPT2Model'] };
  const transfer = await page.evaluateHandle((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'config.json', { type: 'application/json' }));
    return dt;
  }, JSON.stringify(dropped));
  await page.getByTestId('hf-drop-zone').dispatchEvent('drop', { dataTransfer: transfer });
  await expect(page.getByTestId('hf-name')).toHaveText('Imported model: GPT2Model');
  await expect(page.getByTestId('plan-model')).toContainText('GPT2Model');

  // Removing it goes back to a preset.
  await page.getByRole('button', { name: 'Remove config.json' }).click();
  await expect(page.getByTestId('hf-name')).toHaveCount(0);
  await expect(page.getByLabel('model', { exact: true })).toHaveValue(DEFAULT_PLAN.model);
});
