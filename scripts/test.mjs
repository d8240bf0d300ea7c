#!/usr/bin/env node
// `npm test`: type-check, lint, unit tests, the engine's GPU tests in Node (SwiftShader when
// there is no GPU) and the Playwright e2e tests in Chromium. Prints one closing line
// `N passed, N failed` summed over every step, and exits non-zero if anything failed.
//   node scripts/test.mjs [--only typecheck,lint,unit,gpu,e2e] [test files or filters]
// The layer scripts (npm run test:unit, test:gpu, test:e2e) are this with --only, so each works
// alone on a machine without a GPU as `npm test` does; other arguments go to Vitest and
// Playwright (`npm run test:gpu -- test/gpu/mlp.test.ts`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { ensureBrowser, gpuEnv } from './env.mjs';

const root = new URL('..', import.meta.url).pathname;
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? new Set(process.argv[onlyArg + 1].split(',')) : null;
const want = (step) => !only || only.has(step);
const passThrough = process.argv.slice(2).filter((a, i, all) => a !== '--' && a !== '--only' && all[i - 1] !== '--only');
const out = `${root}test-results`;
mkdirSync(out, { recursive: true });

const results = [];
const bin = (name) => `${root}node_modules/.bin/${name}`;

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function step(name, fn) {
  if (!want(name)) return;
  console.log(`\n=== ${name}`);
  const t0 = Date.now();
  let passed = 0;
  let failed = 0;
  try {
    ({ passed, failed } = fn());
  } catch (e) {
    console.error(`${name}: ${e instanceof Error ? e.message : e}`);
    failed = Math.max(failed, 1);
  }
  results.push({ name, passed, failed, s: (Date.now() - t0) / 1000 });
}

/** A whole-program check counts as one test. */
const single = (code) => (code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });

function vitest(project, env) {
  const file = `${out}/vitest-${project}.json`;
  rmSync(file, { force: true });
  const code = run(bin('vitest'), ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${file}`, ...passThrough], env);
  if (!existsSync(file)) return { passed: 0, failed: 1 };
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const failed = j.numFailedTests + (code !== 0 && j.numFailedTests === 0 ? 1 : 0);
  return { passed: j.numPassedTests, failed };
}

// Chromium is needed by the e2e tests and also by the GPU tests on a machine with no GPU
// (its SwiftShader Vulkan driver and loader), so find or install it before either runs.
let browser = null;
if (want('gpu') || want('e2e')) {
  try {
    browser = ensureBrowser();
    console.log(`browser: ${browser}`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
  }
}

step('typecheck', () => single(run(bin('tsc'), ['--noEmit', '-p', '.'])));
step('lint', () => single(run(bin('eslint'), ['.'])));
step('unit', () => vitest('unit'));
step('gpu', () => vitest('gpu', gpuEnv()));
step('e2e', () => {
  if (!browser) throw new Error('no browser for the e2e tests (see the message above)');
  const file = `${out}/playwright.json`;
  rmSync(file, { force: true });
  const code = run(bin('playwright'), ['test', ...passThrough], {
    CHROMIUM_PATH: browser,
    PLAYWRIGHT_JSON_OUTPUT_NAME: file,
  });
  if (!existsSync(file)) return { passed: 0, failed: 1 };
  const s = JSON.parse(readFileSync(file, 'utf8')).stats;
  const failed = s.unexpected + (code !== 0 && s.unexpected === 0 ? 1 : 0);
  return { passed: s.expected + s.flaky, failed };
});

console.log('\n=== summary');
for (const r of results) console.log(`${r.name.padEnd(10)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${r.s.toFixed(1)} s`);
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
