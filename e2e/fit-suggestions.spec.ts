/**
 * <vl-fit-suggestions> ("make it fit"), mounted by the spec through the dev server's module URL so
 * it does not depend on where the page places it: the verdict, the suggestions as makeItFit gives
 * them, Apply firing vl-plan-patch with the patch, the largest batch and sequence, a configuration
 * that fits and one that fits nowhere, at a phone's width (390 px) with nothing overflowing, and
 * no serious accessibility findings.
 */
import { mkdirSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import type { PlanConfig } from '../src/protocol/config.ts';
import type { FitResult, PlanPatch } from '../src/estimate/fit.ts';

const GiB = 2 ** 30;

/** Mounts the component on `cfg` (over DEFAULT_PLAN) and `gib`; returns what makeItFit gives in the page for the same. */
async function mount(page: Page, cfg: Partial<PlanConfig>, gib: number): Promise<FitResult> {
  return page.evaluate(
    async ({ cfg, capacity }) => {
      const paths = { config: '/src/protocol/config.ts', fit: '/src/estimate/fit.ts', ui: '/src/ui/fit-suggestions.ts' };
      const { DEFAULT_PLAN } = (await import(/* @vite-ignore */ paths.config)) as typeof import('../src/protocol/config.ts');
      const { makeItFit } = (await import(/* @vite-ignore */ paths.fit)) as typeof import('../src/estimate/fit.ts');
      await import(/* @vite-ignore */ paths.ui);
      document.querySelector('vl-fit-suggestions')?.remove();
      const el = document.createElement('vl-fit-suggestions');
      const plan = { ...DEFAULT_PLAN, ...cfg } as PlanConfig;
      el.plan = plan;
      el.capacityBytes = capacity;
      el.dataset['testid'] = 'fit';
      document.body.append(el);
      await el.updateComplete;
      return makeItFit(plan, capacity);
    },
    { cfg, capacity: gib * GiB },
  );
}

async function noOverflow(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const el = document.querySelector('vl-fit-suggestions')!;
    const inner = [...el.shadowRoot!.querySelectorAll('li, p, h3')].map((n) => n.getBoundingClientRect().right);
    return { host: el.getBoundingClientRect().right, scroll: el.scrollWidth, client: el.clientWidth, inner: Math.max(...inner) };
  });
  expect(widths.host).toBeLessThanOrEqual(390);
  expect(widths.inner).toBeLessThanOrEqual(390);
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

test.use({ viewport: { width: 390, height: 844 } });

test('lists what makes gpt2-small fit 8 GiB, cheapest first, and Apply fires the patch', async ({ page }) => {
  await page.goto('/');
  const expected = await mount(page, { model: 'gpt2-small', batch: 8, seq: 1024, precision: 'fp32', attention: 'eager' }, 8);
  expect(expected.suggestions.length).toBeGreaterThan(1);
  const fit = page.getByTestId('fit');
  await expect(fit.getByTestId('fit-verdict')).toHaveAttribute('data-fits', 'false');
  await expect(fit.getByTestId('fit-verdict')).toContainText(/^Does not fit: \d+\.\d\d GiB needed, \d+\.\d\d GiB short\.$/);
  await expect(fit.getByTestId('fit-message')).toHaveText(expected.message);
  const items = fit.getByTestId('fit-suggestion');
  await expect(items).toHaveCount(expected.suggestions.length);
  for (const [i, s] of expected.suggestions.entries()) {
    await expect(items.nth(i)).toHaveAttribute('data-total-bytes', String(s.totalBytes));
    await expect(items.nth(i)).toContainText(s.change);
  }
  await expect(fit.getByTestId('fit-largest-batch')).toHaveAttribute('data-value', String(expected.largestBatch!.value));
  await expect(fit.getByTestId('fit-largest-seq')).toHaveAttribute('data-value', String(expected.largestSeq!.value));
  await noOverflow(page);
  mkdirSync('test-results/screenshots', { recursive: true });
  await fit.screenshot({ path: 'test-results/screenshots/fit-suggestions-390.png' });

  const fired = page.evaluate(
    () =>
      new Promise<{ patch: PlanPatch; change: string; composed: boolean }>((resolve) =>
        document.addEventListener('vl-plan-patch', (e) => resolve({ ...(e as CustomEvent<{ patch: PlanPatch; change: string }>).detail, composed: e.composed }), { once: true }),
      ),
  );
  const last = expected.suggestions.at(-1)!;
  await fit.getByTestId('fit-list').getByRole('button', { name: `Apply ${last.change}`, exact: true }).click();
  expect(await fired).toEqual({ patch: last.patch, change: last.change, composed: true });

  const seq = page.evaluate(() => new Promise<PlanPatch>((resolve) => document.addEventListener('vl-plan-patch', (e) => resolve((e as CustomEvent<{ patch: PlanPatch }>).detail.patch), { once: true })));
  await fit.getByRole('button', { name: `Apply the largest seq, ${expected.largestSeq!.value}`, exact: true }).click();
  expect(await seq).toEqual({ seq: expected.largestSeq!.value });

  const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).include('[data-testid="fit"]').analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
});

test('says when it fits already, and when it fits nowhere', async ({ page }) => {
  await page.goto('/');
  await mount(page, { model: 'gpt2-small', batch: 1, seq: 128 }, 24);
  const fit = page.getByTestId('fit');
  await expect(fit.getByTestId('fit-verdict')).toHaveAttribute('data-fits', 'true');
  await expect(fit.getByTestId('fit-verdict')).toContainText(/^Fits: .+ needed, .+ to spare\.$/);
  await expect(fit.getByTestId('fit-suggestion')).toHaveCount(0);
  await expect(fit.getByTestId('fit-largest-seq')).toContainText('1,024 (the upper bound searched)');

  const nowhere = await mount(page, { model: 'llama-2-13b', batch: 1, seq: 4096 }, 1);
  expect(nowhere.fitsNowhere).toBe(true);
  await expect(fit.getByTestId('fit-message')).toHaveText(/^Fits nowhere in 1\.00 GiB: tried /);
  await expect(fit.getByTestId('fit-largest-batch')).toContainText('none, even 1 does not');
  await noOverflow(page);
});
