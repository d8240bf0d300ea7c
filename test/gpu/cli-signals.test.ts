/**
 * `vramlab run` as scripts and CI end it: signals to the bin's process (which runs the
 * training in a child with the GPU environment) reach the run and leave no process behind;
 * output that cannot be written and a missing Vulkan driver each end in one line.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.ts';

const TIMEOUT = 90_000;
/** Long enough that it is still running when signalled, small enough to step quickly on SwiftShader. */
const LONG_RUN = ['run', '--d', '8', '--hidden', '16', '--layers', '1', '--batch', '4', '--steps', '100000'];

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

/** Every process a test started, killed afterwards should the test fail half-way. */
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0).flatMap((p) => [...descendants(p), p])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already, as it should be.
    }
  }
});

function start(args: string[]): Started {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, VRAMLAB_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  child.stdout!.resume();
  started.push(child.pid!);
  const exit = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (status, signal) => resolve({ status, signal })));
  return { child, stderr: () => stderr, exit };
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The processes under `pid` (the bin's child doing the run, if it re-executed itself). */
function descendants(pid: number): number[] {
  let out: string;
  try {
    out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when there are none
  }
  const kids = out.split('\n').filter(Boolean).map(Number);
  return [...kids, ...kids.flatMap(descendants)];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('signals to vramlab run', () => {
  it('SIGTERM to the bin ends the run and leaves no process behind', { timeout: TIMEOUT }, async () => {
    const run = start(LONG_RUN);
    await until('the second step', () => /^step +2\//m.test(run.stderr()), 60_000);
    const family = descendants(run.child.pid!);
    run.child.kill('SIGTERM');
    const end = await run.exit;
    // Ended by the signal, as the shell expects of a process told to terminate.
    expect(end.signal ?? end.status).toMatch(/^(SIGTERM|143)$/);
    await until('every process of the run to be gone', () => family.every((p) => !alive(p)), 5_000);
  });

  it('SIGINT to the bin stops the run after its step at once, frees everything and exits 130', { timeout: TIMEOUT }, async () => {
    const run = start(LONG_RUN);
    await until('the second step', () => /^step +2\//m.test(run.stderr()), 60_000);
    const family = descendants(run.child.pid!);
    run.child.kill('SIGINT');
    // Acknowledged before the run ends, by the process doing it.
    await until('the acknowledgement', () => run.stderr().includes('vramlab run: stopping after this step… (Ctrl-C again to stop at once)'), 5_000);
    const end = await run.exit;
    expect(end.status, run.stderr()).toBe(130);
    expect(run.stderr().trimEnd().split('\n').at(-1)).toBe('vramlab run: the run was cancelled; nothing is left allocated');
    await until('every process of the run to be gone', () => family.every((p) => !alive(p)), 5_000);
  });

  it('SIGKILL to the bin still leaves no run behind: the child sees its parent go', { timeout: TIMEOUT }, async () => {
    const run = start(LONG_RUN);
    await until('the second step', () => /^step +2\//m.test(run.stderr()), 60_000);
    const family = descendants(run.child.pid!);
    run.child.kill('SIGKILL');
    await run.exit;
    await until('every process of the run to be gone', () => family.every((p) => !alive(p)), 15_000);
  });
});

describe('vramlab run ends in one line', () => {
  it('when its --json report cannot be written (> /dev/full): exit 1', { timeout: TIMEOUT }, async () => {
    const fd = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [BIN, 'run', '--d', '8', '--hidden', '16', '--layers', '1', '--batch', '4', '--steps', '1', '--json'], {
      cwd: ROOT,
      env: { ...process.env, VRAMLAB_DEBUG: '' },
      stdio: ['ignore', fd, 'pipe'],
    });
    closeSync(fd);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status, stderr).toBe(1);
    expect(stderr.trimEnd().split('\n'), stderr).toEqual(['vramlab: cannot write the output (no space left on the device); nothing more is written']);
  });

  it('when VK_ICD_FILENAMES names a driver file that does not exist: no loader warnings, exit 1', { timeout: TIMEOUT }, async () => {
    const r = await runCli(['run', '--steps', '1'], { timeoutMs: TIMEOUT - 5_000, env: { VK_ICD_FILENAMES: '/nonexistent/vk_icd.json' } });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual([
      expect.stringMatching(/^vramlab run: No WebGPU adapter: VK_ICD_FILENAMES=\/nonexistent\/vk_icd\.json names no file that exists; point it at a Vulkan driver's \.json/),
    ]);
  });
});
