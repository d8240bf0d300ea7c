/**
 * Accessibility: axe-core (WCAG 2.x A/AA rules plus best practices) over the whole page,
 * shadow roots included, at the states a person sees: the planner with its breakdown and the
 * adapter card filled, and the result of a tiny run from the Run panel. Serious and critical
 * violations fail the test; moderate and minor ones are printed so they can be worked down.
 * Also the export buttons (not yet on the page): labelled, disabled without a report, and
 * their downloads are what export.ts writes.
 */
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import type { Page, TestInfo } from '@playwright/test';
import { test, expect } from './fixtures.ts';
import { fillMlpShape, plannerReady, pressRun } from './lab.ts';
import { DEFAULT_RUN, PHASE_NAMES, type RunConfig, type RunReport } from '../src/protocol/run.ts';

type AxeResults = Awaited<ReturnType<AxeBuilder['analyze']>>;

/** Runs axe on the page (or under `include`), attaches the full result, prints the lesser findings and returns the blocking ones. */
async function audit(page: Page, info: TestInfo, name: string, include?: string): Promise<string[]> {
  let builder = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']);
  if (include) builder = builder.include(include);
  const results: AxeResults = await builder.analyze();
  await info.attach(`axe-${name}.json`, { body: JSON.stringify(results.violations, null, 2), contentType: 'application/json' });
  const lines = (impacts: readonly string[]) =>
    results.violations
      .filter((v) => impacts.includes(v.impact ?? 'minor'))
      .flatMap((v) => v.nodes.map((n) => `[${v.impact}] ${v.id}: ${v.help} — ${JSON.stringify(n.target)} — ${n.failureSummary?.replace(/\s+/g, ' ') ?? ''}`));
  const lesser = lines(['moderate', 'minor']);
  const incomplete = results.incomplete.map((r) => `${r.id} (${r.nodes.length})`).join(', ') || 'none';
  console.log(`axe ${name}: ${results.passes.length} rules pass, ${results.violations.length} fail; needs review: ${incomplete}${lesser.length ? '; moderate/minor:' : ''}`);
  for (const l of lesser) console.log(`  ${l}`);
  // What axe could not decide (colour contrast over a gradient or an overlap): for a person to check.
  for (const r of results.incomplete) {
    for (const n of r.nodes) console.log(`  review ${r.id}: ${JSON.stringify(n.target)} — ${(n.any[0] ?? n.all[0] ?? n.none[0])?.message ?? ''}`);
  }
  const blocking = lines(['serious', 'critical']);
  for (const l of blocking) console.log(`  BLOCKING ${l}`);
  return blocking;
}

/** The planner has drawn its estimate and the engine has described its adapter. */
test('the planner, with its breakdown and adapter card, has no serious or critical axe violations', async ({ page }, info) => {
  await plannerReady(page);
  expect(await audit(page, info, 'planner')).toEqual([]);
});

test('the planner in the dark colour scheme has no serious or critical axe violations', async ({ page }, info) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await plannerReady(page);
  expect(await audit(page, info, 'planner-dark')).toEqual([]);
});

test('the dark theme chosen on the page (system light), with a pinned plan and its deltas, has no serious or critical axe violations', async ({ page }, info) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await plannerReady(page);
  await page.getByTestId('theme-dark').check();
  await expect(page.locator('vl-app')).toHaveAttribute('data-theme', 'dark');
  await page.getByRole('button', { name: 'Pin this plan' }).click();
  await page.getByLabel('checkpointing', { exact: true }).selectOption('full');
  await expect(page.getByTestId('plan-delta')).toBeVisible();
  expect(await audit(page, info, 'planner-forced-dark-pinned')).toEqual([]);
});

test('the light theme chosen on the page (system dark), with the form in inference mode, has no serious or critical axe violations', async ({ page }, info) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await plannerReady(page);
  await page.getByTestId('theme-light').check();
  await page.getByLabel('mode', { exact: true }).selectOption('inference');
  await expect(page.getByTestId('field-optimizer')).toBeDisabled();
  expect(await audit(page, info, 'planner-forced-light-inference')).toEqual([]);
});

test('a tiny mlp run through the Run panel shows a result with no serious or critical axe violations', async ({ page }, info) => {
  test.setTimeout(120_000);
  await plannerReady(page);
  await fillMlpShape(page, { d: 8, hidden: 16, layers: 1, batch: 4 });
  await page.getByTestId('run-steps').fill('2');
  await pressRun(page);
  await expect(page.getByTestId('measured-peak')).toHaveText(/\d/);
  await expect(page.getByTestId('run-error')).toHaveCount(0);
  expect(await audit(page, info, 'run-result')).toEqual([]);
});

/** Small enough for SwiftShader in a second or two. */
const TINY: RunConfig = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 1, batch: 4, steps: 2 };

test('the export buttons are labelled, wait for a report, and save the report JSON and a Perfetto trace', async ({ page }, info) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  // Not on the page yet: load the component through the dev server and mount it in the body.
  await page.evaluate(async () => {
    const path = '/src/ui/export-buttons.ts';
    await import(/* @vite-ignore */ path);
    document.body.append(document.createElement('vl-export-buttons'));
  });
  const buttons = page.locator('vl-export-buttons');
  const json = buttons.getByRole('button', { name: 'Export JSON' });
  const trace = buttons.getByRole('button', { name: 'Export trace (Perfetto)' });
  await expect(buttons.getByRole('group', { name: 'Export the run' })).toBeVisible();
  await expect(json).toBeDisabled();
  await expect(trace).toBeDisabled();
  await expect(json).toHaveAccessibleDescription(/Run first/);
  expect(await audit(page, info, 'export-buttons-empty', 'vl-export-buttons')).toEqual([]);

  const report = await page.evaluate(async (config) => {
    const report = await window.__vramlab!.api.run(config);
    document.querySelector('vl-export-buttons')!.report = report;
    return report;
  }, TINY);
  await expect(json).toBeEnabled();
  await expect(trace).toHaveAccessibleDescription(/Perfetto|tracing/);
  expect(await audit(page, info, 'export-buttons-ready', 'vl-export-buttons')).toEqual([]);

  const [jsonDownload] = await Promise.all([page.waitForEvent('download'), json.click()]);
  expect(jsonDownload.suggestedFilename()).toMatch(/^vramlab-run-mlp-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/);
  const saved = JSON.parse(readFileSync((await jsonDownload.path())!, 'utf8'));
  expect(saved.vramlab).toMatchObject({ schema: 'vramlab.run-report/1', version: expect.any(String), generatedAt: expect.any(String) });
  expect(saved.report.config).toEqual((report as RunReport).config);
  expect(saved.report.actual.peakBytes).toBe((report as RunReport).actual.peakBytes);

  const [traceDownload] = await Promise.all([page.waitForEvent('download'), trace.click()]);
  expect(traceDownload.suggestedFilename()).toMatch(/^vramlab-run-mlp-.+\.trace\.json$/);
  const traceJson = JSON.parse(readFileSync((await traceDownload.path())!, 'utf8'));
  expect(traceJson.displayTimeUnit).toBe('ms');
  const phases = traceJson.traceEvents.filter((e: { ph: string; tid: number }) => e.ph === 'X' && e.tid === 2);
  const r = report as RunReport;
  for (const p of PHASE_NAMES) {
    const us = phases.filter((e: { name: string }) => e.name === p).reduce((s: number, e: { dur: number }) => s + e.dur, 0);
    if (r.timing.phasesMs[p] > 0) expect(us / 1000, p).toBeCloseTo(r.timing.phasesMs[p], 6);
  }
  await info.attach('report.trace.json', { path: (await traceDownload.path())!, contentType: 'application/json' });
});
