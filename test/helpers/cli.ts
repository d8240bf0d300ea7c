/** Runs the real bin the way a user does, so the tsx start-up, the GPU env and exit codes are covered too. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'vramlab.mjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node bin/vramlab.mjs …` (or another `bin`, e.g. an installed copy); killed `timeoutMs` after start. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs: number; env?: Record<string, string>; bin?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, VRAMLAB_DEBUG: '', ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
