/**
 * The bundled CLI (scripts/build-cli.mjs), as a GPU machine without node_modules runs it: one
 * file with everything but `webgpu`, WGSL inlined, started with plain node from elsewhere (the
 * GPU environment is the one this test project runs under, as setup.sh gives it there).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.ts';

const TIMEOUT = 240_000;
// Inside the project, so the bundle's one external (`webgpu`) resolves from node_modules.
const outDir = join(ROOT, 'dist-test');
const bundle = join(outDir, 'cli.mjs');
const elsewhere = mkdtempSync(join(tmpdir(), 'vramlab-bundle-'));
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

function node(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, VRAMLAB_CACHE_DIR: elsewhere } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('dist/cli.mjs', () => {
  it('builds into one file that estimates, and benches on the GPU, with no sources beside it', { timeout: TIMEOUT }, async () => {
    const built = await node([join(ROOT, 'scripts', 'build-cli.mjs'), bundle], ROOT);
    expect(built.status, built.stderr).toBe(0);
    expect(statSync(bundle).size).toBeGreaterThan(100_000);

    const version = await node([bundle, '--version'], elsewhere);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);

    const est = await node([bundle, 'estimate', '--model', 'gpt2-small', '--json'], elsewhere);
    expect(est.status, est.stderr).toBe(0);
    expect((JSON.parse(est.stdout) as { model: { params: number } }).model.params).toBe(124_439_808);

    const bench = await node([bundle, 'bench', '--only', 'matmul', '--no-tfjs', '--iters', '1', '--json'], elsewhere);
    expect(bench.status, bench.stderr).toBe(0);
    const lines = bench.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { work: string; vramlab: { ms: number } });
    expect(lines.map((l) => l.work)).toEqual(['matmul-64', 'matmul-128', 'matmul-256']);
    for (const l of lines) expect(l.vramlab.ms).toBeGreaterThan(0);
  });
});
