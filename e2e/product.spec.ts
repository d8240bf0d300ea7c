/**
 * The page as a product: the answer ("does it fit?") first, legible at every width, a plan
 * that can be pinned and compared, a form that shows only what applies, exports, theme,
 * copy link and skip link.
 */
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { GPU_CATALOG } from '../src/estimate/gpus.ts';

const GiB = 2 ** 30;
const card = (id: string) => GPU_CATALOG.find((g) => g.id === id)!;

/** Rectangles of every text element of the headline chart, in CSS px, with the rendered font size. */
async function chartTexts(page: Page): Promise<{ text: string; kind: string; left: number; right: number; top: number; bottom: number; fontPx: number }[]> {
  return page.getByTestId('plan-bars').evaluate((svg) => {
    const scale = (svg as SVGSVGElement).getScreenCTM()!.a;
    return [...svg.querySelectorAll('text')].map((t) => {
      const r = t.getBoundingClientRect();
      const g = t.closest('g');
      return {
        text: t.textContent ?? '',
        kind: g?.dataset.testid ?? 'axis',
        left: r.left,
        right: r.right,
        top: r.top,
        bottom: r.bottom,
        fontPx: parseFloat(getComputedStyle(t).fontSize) * scale,
      };
    });
  });
}

const overlap = (a: { left: number; right: number; top: number; bottom: number }, b: typeof a) =>
  a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

async function ready(page: Page, url = '/'): Promise<void> {
  await page.goto(url);
  await expect(page.getByTestId('verdict')).toBeVisible();
  await expect(page.getByTestId('adapter-name')).toHaveText(/\S/, { timeout: 30_000 });
}

test('the verdict names the chosen GPU and uses the fit list\'s total; the choice lives in the URL', async ({ page }) => {
  await ready(page);
  const verdict = page.getByTestId('verdict');
  await expect(verdict).toContainText('Fits on RTX 4090 24 GB — ');
  await expect(verdict).toContainText('GiB free');
  // Same headroom as the fit list's line for that card.
  const listed = await page.getByTestId('fit-list').locator('li', { hasText: 'RTX 4090 24 GB' }).innerText();
  const free = (await verdict.innerText()).match(/— ([\d.]+ GiB) free/)![1]!;
  expect(listed).toContain(`(${free} free)`);
  expect(Number(await verdict.getAttribute('data-headroom'))).toBe(card('rtx-4090').memoryBytes - Number(await page.getByTestId('bar-detailed').getAttribute('data-total')));

  // Llama 3.2 1B with Adam at batch 8 × 2048 does not fit a 24 GB card.
  await page.getByLabel('model', { exact: true }).selectOption('llama-3.2-1b');
  await page.getByLabel('sequence length').fill('2048');
  await expect(verdict).toHaveAttribute('data-fits', 'no');
  await expect(verdict).toContainText(/Does not fit on RTX 4090 24 GB — [\d.]+ GiB short/);

  await page.getByLabel('your GPU', { exact: true }).selectOption('h200');
  await expect(verdict).toContainText('H200 141 GB');
  await expect(page).toHaveURL(/[?&]gpu=h200(&|$)/);
  await expect(page.getByTestId('capacity-chosen')).toHaveAttribute('data-bytes', String(card('h200').memoryBytes));
  await page.reload();
  await expect(page.getByLabel('your GPU', { exact: true })).toHaveValue('h200');
  await expect(page.getByTestId('verdict')).toContainText('H200 141 GB');

  // A custom size folds the old "your GPU (GiB)" field in: it starts at the chosen card's size.
  await page.getByLabel('your GPU', { exact: true }).selectOption('custom');
  await expect(page.getByLabel('GPU memory (GiB)')).toHaveValue('140');
  await page.getByLabel('GPU memory (GiB)').fill('48');
  await expect(page.getByTestId('verdict')).toContainText('your GPU (48 GiB)');
  await expect(page).toHaveURL(/[?&]gm=48(&|$)/);
  await expect(page).not.toHaveURL(/gpu=/);
  await expect(page.getByTestId('capacity-chosen')).toHaveAttribute('data-bytes', String(48 * GiB));
});

test('the chosen GPU is a labelled line even far beyond the bars: the axis stretches to it', async ({ page }) => {
  await ready(page, '/?m=mlp&d=8&h=16&l=1&gpu=mi300x');
  const line = page.getByTestId('capacity-chosen');
  await expect(line).toHaveAttribute('data-bytes', String(card('mi300x').memoryBytes));
  await expect(line.locator('text')).toHaveText(/MI300X 192 GB/);
  const svgBox = (await page.getByTestId('plan-bars').boundingBox())!;
  const lineBox = (await line.locator('line').boundingBox())!;
  expect(lineBox.x).toBeGreaterThanOrEqual(svgBox.x);
  expect(lineBox.x).toBeLessThanOrEqual(svgBox.x + svgBox.width + 1);
});

test('at 1440×900 the verdict and the chosen GPU line are in the first viewport; the chart is tall and its labels never overlap', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await ready(page);
  for (const id of ['verdict', 'capacity-chosen']) {
    const box = (await page.getByTestId(id).boundingBox())!;
    expect(box.y, id).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height, id).toBeLessThanOrEqual(900);
  }
  expect(await page.evaluate(() => window.scrollY)).toBe(0);
  expect((await page.getByTestId('plan-bars').boundingBox())!.height).toBeGreaterThanOrEqual(300);

  const texts = await chartTexts(page);
  const labels = texts.filter((t) => t.kind.startsWith('capacity-'));
  expect(labels.length).toBeGreaterThanOrEqual(2);
  const values = texts.filter((t) => t.kind.startsWith('bar-'));
  for (const [i, a] of labels.entries()) {
    for (const b of [...labels.slice(i + 1), ...values]) expect(overlap(a, b), `${a.text} / ${b.text}`).toBe(false);
  }
  for (const t of texts) expect(t.fontPx, t.text).toBeGreaterThanOrEqual(11);
});

test('at 390×844 nothing scrolls sideways and the chart text is at least 11px', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await ready(page, '/?m=llama-3.2-1b');
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const texts = await chartTexts(page);
  expect(texts.length).toBeGreaterThan(4);
  for (const t of texts) {
    expect(t.fontPx, t.text).toBeGreaterThanOrEqual(11);
    expect(t.bottom - t.top, t.text).toBeGreaterThanOrEqual(11);
  }
  const labels = texts.filter((t) => t.kind.startsWith('capacity-'));
  for (const [i, a] of labels.entries()) for (const b of labels.slice(i + 1)) expect(overlap(a, b), `${a.text} / ${b.text}`).toBe(false);
  // Tables scroll inside their own box.
  await page.getByTestId('terms').scrollIntoViewIfNeeded();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});

test('pin a plan, switch checkpointing to full: a ghost bar and a negative activations delta', async ({ page }) => {
  await ready(page);
  await expect(page.getByTestId('bar-pinned')).toHaveCount(0);
  await page.getByRole('button', { name: 'Pin this plan' }).click();
  await expect(page.getByTestId('bar-pinned')).toHaveCount(1);
  await expect(page.getByTestId('bar-pinned')).toContainText('pinned: GPT-2 small (124M), batch 8, amp-bf16, adamw, checkpointing none');
  await expect(page.getByTestId('delta-activations')).toHaveText('0 B');

  await page.getByLabel('checkpointing', { exact: true }).selectOption('full');
  const delta = page.getByTestId('delta-activations');
  await expect.poll(async () => Number(await delta.getAttribute('data-bytes'))).toBeLessThan(0);
  await expect(delta).toHaveText(/^−[\d.]+ (GiB|MiB)$/);
  expect(Number(await page.getByTestId('delta-total').getAttribute('data-bytes'))).toBeLessThan(0);
  // The ghost keeps the pinned plan's bytes; the current bar moved.
  expect(Number(await page.getByTestId('bar-pinned').getAttribute('data-bytes'))).toBeGreaterThan(Number(await page.getByTestId('bar-detailed').getAttribute('data-bytes')));

  await page.getByRole('button', { name: 'Unpin' }).click();
  await expect(page.getByTestId('bar-pinned')).toHaveCount(0);
  await expect(page.getByTestId('plan-delta')).toHaveCount(0);
});

test('the form shows only what applies to the model and mode, and says why', async ({ page }) => {
  await ready(page);
  await expect(page.getByLabel('sequence length')).toBeVisible();
  await expect(page.getByLabel('image size (px)')).toHaveCount(0);
  await expect(page.getByTestId('field-zero')).toHaveCount(0);

  await page.getByLabel('model', { exact: true }).selectOption('mlp');
  for (const gone of ['field-seq', 'field-attention', 'field-loraRank', 'field-qlora']) await expect(page.getByTestId(gone), gone).toHaveCount(0);
  await expect(page.getByTestId('form-not-applicable')).toHaveText(/Not used by MLP .*: sequence length, attention, LoRA and QLoRA\./);
  await expect(page.getByTestId('field-batch')).toHaveAttribute('title', /vectors of width d/);

  await page.getByLabel('model', { exact: true }).selectOption('resnet50');
  await expect(page.getByLabel('image size (px)')).toBeVisible();
  await expect(page.getByTestId('field-seq')).toHaveCount(0);
  await expect(page.getByTestId('field-batch')).toHaveAttribute('title', /images/);

  await page.getByLabel('model', { exact: true }).selectOption('gpt2-small');
  await page.getByLabel('mode', { exact: true }).selectOption('inference');
  for (const key of ['optimizer', 'checkpoint', 'microBatch']) {
    await expect(page.getByTestId(`field-${key}`), key).toBeDisabled();
    await expect(page.getByTestId(`field-${key}`), key).toHaveAccessibleDescription(/training only/);
  }
  await page.getByLabel('mode', { exact: true }).selectOption('train');
  await page.getByLabel('GPUs', { exact: true }).fill('4');
  await expect(page.getByTestId('field-zero')).toBeEnabled();
  await page.getByTestId('field-zero').selectOption('3');
  await expect(page).toHaveURL(/[?&]z=3(&|$)/);
});

test('the adapter card is compact: two limits shown, the rest and the features folded away', async ({ page }) => {
  await ready(page);
  const cardEl = page.getByTestId('adapter-card');
  await expect(cardEl.getByTestId('adapter-features')).toBeHidden();
  await expect(cardEl.getByTestId('limit-maxBufferSize')).toBeVisible();
  expect((await cardEl.boundingBox())!.height).toBeLessThan(260);
  await cardEl.getByText(/More limits and \d+ features/).click();
  await expect(cardEl.getByTestId('adapter-features').locator('li').first()).toBeVisible();
  await expect(cardEl.getByTestId('limit-maxComputeInvocationsPerWorkgroup')).toBeVisible();
  // Long names wrap inside the card.
  expect(await cardEl.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
});

test('theme: dark and light override the system setting and are kept; system follows it again', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await ready(page);
  const app = page.locator('vl-app');
  const bg = () => app.evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(await bg()).toBe('rgb(251, 251, 253)');
  await page.getByTestId('theme-dark').check();
  await expect(app).toHaveAttribute('data-theme', 'dark');
  expect(await bg()).toBe('rgb(22, 22, 26)');
  // The charts follow: a category colour from the dark palette.
  expect(await page.locator('vl-plan-bars rect.seg-activations').first().evaluate((r) => getComputedStyle(r).fill)).toBe('rgb(63, 207, 158)');
  await page.reload();
  await expect(app).toHaveAttribute('data-theme', 'dark');
  await expect(page.getByTestId('theme-dark')).toBeChecked();
  await page.getByTestId('theme-system').check();
  await expect(app).not.toHaveAttribute('data-theme');
  expect(await bg()).toBe('rgb(251, 251, 253)');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByTestId('theme-light').check();
  expect(await bg()).toBe('rgb(251, 251, 253)');
});

test('copy link puts the address on the clipboard; the skip link is the first stop and goes to the results', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await ready(page, '/?b=4');
  // The first Tab of a fresh page lands on the skip link; Enter moves focus to the results.
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to results' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Does it fit?' })).toBeFocused();
  await expect(page.getByTestId('verdict')).toBeInViewport();

  await page.getByRole('button', { name: 'Copy link' }).click();
  await expect(page.getByTestId('copy-link-status')).toHaveText('Link copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(page.url());
});

test('exports: the chart as SVG and PNG, the plan as JSON and CSV', async ({ page }) => {
  await ready(page);
  const save = async (testId: string) => {
    const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
    return { name: d.suggestedFilename(), body: readFileSync((await d.path())!) };
  };
  const svg = await save('chart-export-svg');
  expect(svg.name).toBe('vramlab-peak-gpt2-small.svg');
  const svgText = svg.body.toString('utf8');
  const parsed = await page.evaluate((t) => {
    const doc = new DOMParser().parseFromString(t, 'image/svg+xml');
    return { error: doc.querySelector('parsererror') !== null, root: doc.documentElement.localName, rects: doc.querySelectorAll('rect').length };
  }, svgText);
  expect(parsed).toEqual({ error: false, root: 'svg', rects: expect.any(Number) });
  expect(parsed.rects).toBeGreaterThan(3);
  // Colours are inlined: the activations segment carries its palette colour.
  expect(svgText).toMatch(/class="seg seg-activations"[^>]*style="fill: ?rgb\(0, 158, 115\)/);

  const png = await save('chart-export-png');
  expect(png.name).toBe('vramlab-peak-gpt2-small.png');
  expect([...png.body.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  const csv = await save('plan-export-csv');
  expect(csv.name).toMatch(/^vramlab-plan-gpt2-small-.+\.csv$/);
  const lines = csv.body.toString('utf8').split('\r\n');
  expect(lines[0]).toBe('kind,key,label,bytes,formula,source');
  const peak = await page.getByTestId('peak-bytes').getAttribute('data-bytes');
  expect(lines).toContain(`peak,backward,peak at backward cross-entropy loss,${peak}`.concat(',,'));
  expect(lines.some((l) => l.startsWith('term,'))).toBe(true);

  const json = await save('plan-export-json');
  const doc = JSON.parse(json.body.toString('utf8'));
  expect(doc.vramlab.schema).toBe('vramlab.plan/1');
  expect(doc.plan.peak.bytes).toBe(Number(peak));
  expect(doc.config.model).toBe('gpt2-small');
});

test('a vl-plan-patch from inside the results is applied to the form, the plan and the URL', async ({ page }) => {
  await ready(page);
  await page.getByTestId('results').evaluate((el) => {
    el.dispatchEvent(new CustomEvent('vl-plan-patch', { detail: { patch: { checkpoint: 'full' }, change: 'checkpoint full' }, bubbles: true, composed: true }));
  });
  await expect(page.getByLabel('checkpointing', { exact: true })).toHaveValue('full');
  await expect(page).toHaveURL(/[?&]c=full(&|$)/);
  // An invalid patch changes nothing.
  await page.getByTestId('results').evaluate((el) => {
    el.dispatchEvent(new CustomEvent('vl-plan-patch', { detail: { patch: { batch: -1 }, change: 'batch -1' }, bubbles: true, composed: true }));
  });
  await expect(page.getByLabel('batch', { exact: true })).toHaveValue('8');
});
