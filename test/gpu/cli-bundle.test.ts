/**
 * The bundled CLI (scripts/build-cli.mjs --with-tfjs), as a GPU machine without node_modules
 * runs it: lib/cli.mjs and its chunks with everything but `webgpu`, WGSL and TF.js inlined,
 * started with plain node from elsewhere (the GPU environment is the one this test project runs
 * under, as setup.sh gives it there). TF.js and the engine are chunks of their own that
 * `estimate` never loads.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.ts';

const TIMEOUT = 240_000;
// Inside the project, so the bundle's one external (`webgpu`) resolves from node_modules.
const outDir = join(ROOT, 'dist-test');
const bundle = join(outDir, 'lib', 'cli.mjs');
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

/** The files `file` imports statically (`import … from "./x.mjs"`), itself included, transitively. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s*"(\.{1,2}\/[^"]+)"/g)) staticClosure(join(file, '..', m[1]!), seen);
  return seen;
}

describe('lib/cli.mjs built with --with-tfjs', () => {
  it('is code-split (TF.js and Dawn load only with bench and run), estimates, and benches against TF.js with no sources beside it', { timeout: TIMEOUT }, async () => {
    const built = await node([join(ROOT, 'scripts', 'build-cli.mjs'), join(outDir, 'lib'), '--with-tfjs', '--no-types'], ROOT);
    expect(built.status, built.stderr).toBe(0);

    const startup = [...staticClosure(bundle)].map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(startup).not.toMatch(/from\s*"webgpu"/);
    expect(startup).not.toContain('tfjs-core');
    const chunks = readdirSync(join(outDir, 'lib', 'chunks')).map((f) => readFileSync(join(outDir, 'lib', 'chunks', f), 'utf8'));
    expect(chunks.filter((c) => c.includes('node_modules/@tensorflow/tfjs-core/'))).toHaveLength(1);

    const version = await node([bundle, '--version'], elsewhere);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);

    const est = await node([bundle, 'estimate', '--model', 'gpt2-small', '--json'], elsewhere);
    expect(est.status, est.stderr).toBe(0);
    expect((JSON.parse(est.stdout) as { model: { params: number } }).model.params).toBe(124_439_808);

    const bench = await node([bundle, 'bench', '--only', 'matmul', '--iters', '1', '--json'], elsewhere);
    expect(bench.status, bench.stderr).toBe(0);
    const lines = bench.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { work: string; vramlab: { ms: number }; tfjs: { ms: number } });
    expect(lines.map((l) => l.work)).toEqual(['matmul-64', 'matmul-128', 'matmul-256']);
    for (const l of lines) {
      expect(l.vramlab.ms).toBeGreaterThan(0);
      expect(l.tfjs.ms).toBeGreaterThan(0);
    }
  });
});
