/**
 * vramlab as a user installs it: `npm pack`, then the tarball installed with --omit=dev into an
 * empty folder (from npm's cache where it can, so no network is needed after `npm ci`). `run`
 * must work from there with the production dependencies alone; what only a dev install has
 * (TensorFlow.js, for `bench`), or a package removed afterwards, is named in one line, exit 2.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.ts';

const exec = promisify(execFile);
const TIMEOUT = 180_000;
const dir = mkdtempSync(join(tmpdir(), 'vramlab-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY = ['run', '--d', '8', '--hidden', '16', '--layers', '1', '--batch', '4', '--steps', '1'];

describe('a production-only install (npm pack, npm install --omit=dev)', () => {
  it('runs a tiny mlp, and names what is missing in one line', { timeout: TIMEOUT }, async () => {
    const npm = { env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } };
    await exec('npm', ['pack', '--silent', '--pack-destination', dir], { ...npm, cwd: ROOT });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'uses-vramlab', private: true }));
    await exec('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!)], { ...npm, cwd: app });
    const installed = readdirSync(join(app, 'node_modules'));
    expect(installed).toContain('webgpu');
    expect(installed).not.toContain('@tensorflow');

    const bin = join(app, 'node_modules', '.bin', 'vramlab');
    const cli = (args: string[]) => runCli(args, { cwd: app, timeoutMs: 60_000, bin });

    const run = await cli([...TINY, '--json']);
    expect(run.status, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { loss: number[] }).loss).toHaveLength(1);

    // TF.js is a dev dependency: bench says so before it opens a device, and how to go on.
    const bench = await cli(['bench', '--quick', '--only', 'matmul']);
    expect(bench.status, bench.stderr).toBe(2);
    expect(bench.stderr.trimEnd().split('\n'), bench.stderr).toEqual([
      expect.stringMatching(/^vramlab bench: TensorFlow\.js \('@tensorflow\/[a-z-]+'\), which bench compares against, is not installed .*or pass --no-tfjs$/),
    ]);

    rmSync(join(app, 'node_modules', 'webgpu'), { recursive: true });
    const broken = await cli(TINY);
    expect(broken.status, broken.stderr).toBe(2);
    expect(broken.stderr.trimEnd().split('\n'), broken.stderr).toEqual([
      "vramlab run: the 'webgpu' package (Dawn, WebGPU for Node), which run and bench need, is not installed: run npm install webgpu in the folder vramlab is installed in",
    ]);
  });
});
