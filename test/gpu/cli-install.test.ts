/**
 * vramlab as a user installs it: `npm pack` (which builds lib/ on `prepack`), then the tarball
 * installed into an empty folder with `npm install --offline`. Its dependencies come from this
 * checkout's node_modules (file: links), so the install needs no network and no npm cache. The
 * installed bin must run the prebuilt bundle with the production dependencies alone: `--version`
 * and `estimate` without `webgpu` even, `run` on the adapter (SwiftShader here), `bench` without
 * TensorFlow.js (one line saying how to add it); the planner must import as a library, typed.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.ts';

const exec = promisify(execFile);
const TIMEOUT = 240_000;
const dir = mkdtempSync(join(tmpdir(), 'vramlab-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY = ['run', '--d', '8', '--hidden', '16', '--layers', '1', '--batch', '4', '--steps', '1'];
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };

describe('the packed tarball, installed offline into an empty folder', () => {
  it('ships the bundle and no sources or tests, and runs estimate, run, bench and the library from there', { timeout: TIMEOUT }, async () => {
    const npm = { env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'error' } };
    const { stdout: packed } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { ...npm, cwd: ROOT, maxBuffer: 1 << 24 });
    const [{ filename, files }] = JSON.parse(packed.slice(packed.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/vramlab.mjs', 'lib/cli.mjs', 'lib/index.mjs', 'lib/types/estimate/index.d.ts', 'lib/schemas/estimate.schema.json']));
    expect(paths.filter((p) => /^(src|test|e2e|\.ci|shaders|\.github)\/|\.test\.|\.spec\./.test(p))).toEqual([]);

    const app = join(dir, 'app');
    mkdirSync(app);
    const links = Object.fromEntries(Object.keys(pkg.dependencies).map((d) => [d, `file:${join(ROOT, 'node_modules', d)}`]));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'uses-vramlab', private: true, type: 'module', dependencies: links }));
    await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, filename)], { ...npm, cwd: app });

    const bin = join(app, 'node_modules', '.bin', 'vramlab');
    const cli = (args: string[]) => runCli(args, { cwd: app, timeoutMs: 60_000, bin });

    const run = await cli([...TINY, '--json']);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { schema: string; loss: number[] };
    expect(report.schema).toBe('vramlab.run/1');
    expect(report.loss).toHaveLength(1);

    // TF.js is not a dependency: bench says once how to add it, then benches vramlab alone.
    const bench = await cli(['bench', '--quick', '--only', 'matmul', '--iters', '1', '--json']);
    expect(bench.status, bench.stderr).toBe(0);
    const notes = bench.stderr.split('\n').filter((l) => l.includes('TensorFlow'));
    expect(notes, bench.stderr).toEqual([expect.stringMatching(/^vramlab bench: TensorFlow\.js \('@tensorflow\/[a-z-]+'\), which bench compares against, is not installed: add it with npm install @tensorflow\/tfjs .*or pass --no-tfjs; benching vramlab alone$/)]);
    const lines = bench.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { work: string; tfjs: unknown; vramlab: { ms: number } });
    expect(lines.map((l) => [l.work, l.tfjs])).toEqual([['matmul-64', null], ['matmul-128', null], ['matmul-256', null]]);

    // The planner as a library, and its types as a TypeScript user of the package sees them.
    const lib = await exec(process.execPath, ['--input-type=module', '-e', "import { estimate, DEFAULT_PLAN } from 'vramlab'; import { createRequire } from 'node:module'; const s = createRequire(import.meta.url)('vramlab/schemas/estimate.schema.json'); console.log(estimate({ ...DEFAULT_PLAN, model: 'gpt2-small' }).params, s.properties.schema.const)"], { cwd: app });
    expect(lib.stdout.trim()).toBe('124439808 vramlab.estimate/1');
    writeFileSync(join(app, 'use.ts'), "import { estimate, DEFAULT_PLAN, type Plan } from 'vramlab';\nconst plan: Plan = estimate({ ...DEFAULT_PLAN, model: 'gpt2-small' });\nconst peak: number = plan.peak.bytes;\n// @ts-expect-error: a plan has no such field\nvoid plan.noSuchField;\nvoid peak;\n");
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['use.ts'] }));
    const tsc = await exec(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app]).catch((e: { stdout: string }) => e);
    expect(tsc.stdout).toBe('');

    // Without webgpu, the commands that need no GPU still work, and run says what is missing.
    unlinkSync(join(app, 'node_modules', 'webgpu'));
    const version = await cli(['--version']);
    expect(version.stdout).toBe(`${pkg.version}\n`);
    const est = await cli(['estimate', '--model', 'gpt2-small', '--json']);
    expect(est.status, est.stderr).toBe(0);
    expect(JSON.parse(est.stdout)).toMatchObject({ schema: 'vramlab.estimate/1', params: 124_439_808 });
    const broken = await cli(TINY);
    expect(broken.status, broken.stderr).toBe(2);
    expect(broken.stderr.trimEnd().split('\n'), broken.stderr).toEqual([
      "vramlab run: the 'webgpu' package (Dawn, WebGPU for Node), which run and bench need, is not installed: run npm install webgpu in the folder vramlab is installed in",
    ]);
  });
});
