/**
 * Files PyTorch users read and write: the planner replays a PyTorch memory snapshot beside its
 * estimate, and a run exports its last step as a snapshot for pytorch.org/memory_viz.
 */
import { readFileSync } from 'node:fs';
import { test, expect } from './fixtures.ts';
import { bytesOf, chooseMlp, plannerReady } from './lab.ts';
import { csvRecords } from '../test/helpers/csv.ts';
import { readMemorySnapshot, replaySnapshot } from '../src/protocol/memory-snapshot.ts';
import { DEFAULT_RUN, type RunConfig, type RunReport } from '../src/protocol/run.ts';

const FIXTURE = new URL('../test/fixtures/torch-mlp-step.pickle', import.meta.url);
const EXPECTED = JSON.parse(readFileSync(new URL('../test/fixtures/torch-mlp-step.expected.json', import.meta.url), 'utf8')) as {
  peakBytes: number;
  phasePeakBytes: Record<string, number>;
};

test('a PyTorch snapshot chosen in the planner is replayed to its peak, beside the estimate on screen, per phase', async ({ page }) => {
  test.setTimeout(90_000);
  await plannerReady(page);
  await chooseMlp(page, { d: 256, hidden: 1024, layers: 2, batch: 64 });
  const box = page.locator('vl-snapshot-compare');
  await box.getByTestId('snapshot-file').setInputFiles(FIXTURE.pathname);
  await expect(box.getByTestId('snapshot-summary')).toContainText('112 trace events (51 allocs, 27 frees)');
  const cell = (phase: string, col: number) => box.locator(`tr[data-phase="${phase}"] td`).nth(col);
  expect(Number(await cell('peak', 0).getAttribute('data-bytes'))).toBe(EXPECTED.peakBytes);
  for (const phase of ['forward', 'backward', 'optimizer']) expect(Number(await cell(phase, 0).getAttribute('data-bytes')), phase).toBe(EXPECTED.phasePeakBytes[phase]);
  // The estimated peak is the plan the page shows.
  const shownPeak = await bytesOf(page, 'peak-bytes');
  expect(Number(await cell('peak', 1).getAttribute('data-bytes'))).toBe(shownPeak);
  await expect(cell('peak', 2)).toHaveText(`${shownPeak >= EXPECTED.peakBytes ? '+' : '-'}${((Math.abs(shownPeak - EXPECTED.peakBytes) / EXPECTED.peakBytes) * 100).toFixed(1)} %`);
  await expect(box.getByRole('img', { name: /Allocated bytes over the snapshot's trace/ })).toBeVisible();

  // The fit list saves the CSV `vramlab fit --format csv` prints: its changes are the ones on screen.
  const fit = page.locator('vl-fit-suggestions');
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), fit.getByTestId('fit-csv').click()]);
  expect(csvDownload.suggestedFilename()).toMatch(/^vramlab-fit-mlp-[\d.]+gib-.+Z\.csv$/);
  const rows = csvRecords(readFileSync((await csvDownload.path())!, 'utf8'));
  const shown = await fit.getByTestId('fit-suggestion').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-total-bytes'))));
  expect(rows.filter((r) => r.kind === 'suggestion').map((r) => Number(r.total_bytes))).toEqual(shown);
  expect(rows[0]!.kind).toBe('current');

  // A changed plan is compared at once, with the same measurement.
  await page.getByLabel('batch', { exact: true }).fill('8');
  await expect.poll(async () => Number(await cell('peak', 1).getAttribute('data-bytes'))).not.toBe(shownPeak);

  // A file that is not a snapshot: one sentence, no table.
  await box.getByTestId('snapshot-file').setInputFiles({ name: 'evil.pickle', mimeType: 'application/octet-stream', buffer: Buffer.from([0x80, 2, 0x63, ...Buffer.from('os\nsystem\n'), 0x2e]) });
  await expect(box.getByTestId('snapshot-error')).toHaveText(/^evil\.pickle: not a readable pickle: opcode GLOBAL would load or call Python code/);
  await expect(box.getByTestId('snapshot-table')).toHaveCount(0);
});

test('a run exports its last step as a PyTorch memory snapshot whose replay peak is the ledger peak', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await page.waitForFunction(() => window.__vramlab !== undefined);
  await page.evaluate(async () => {
    const path = '/src/ui/export-buttons.ts';
    await import(/* @vite-ignore */ path);
    document.body.append(document.createElement('vl-export-buttons'));
  });
  const button = page.locator('vl-export-buttons').getByRole('button', { name: 'Export snapshot (memory_viz)' });
  await expect(button).toBeDisabled();
  const tiny: RunConfig = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 2, batch: 4, steps: 1, checkpoint: 'sqrt' };
  const report = (await page.evaluate(async (config) => {
    const r = await window.__vramlab!.api.run(config);
    document.querySelector('vl-export-buttons')!.report = r;
    return r;
  }, tiny)) as RunReport;
  await expect(button).toHaveAccessibleDescription(/memory_viz/);
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
  expect(download.suggestedFilename()).toMatch(/^vramlab-run-mlp-.+Z\.pickle$/);
  const replay = replaySnapshot(readMemorySnapshot(new Uint8Array(readFileSync((await download.path())!))));
  expect(replay.peakBytes).toBe(report.actual.peakBytes);
  expect(replay.allocs).toBe(report.timeline.filter((p) => p.category !== null && p.event === 'create').length);
});
