#!/usr/bin/env node
// The `vramlab` command. Installed from the package it runs the prebuilt bundle, lib/cli.mjs
// (scripts/build-cli.mjs, built on `npm pack`); in a checkout, where src/ is beside it, it runs
// the TypeScript sources through tsx (a dev dependency), so edits need no build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gpuEnv } from '../scripts/env.mjs';

const FROM_SOURCE = existsSync(fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)));

/** main() and its helpers: from the sources in a checkout, else from the bundle. */
async function loadCli() {
  if (!FROM_SOURCE) return import('../lib/cli.mjs');
  // The engine imports its WGSL with Vite's `?raw`; plain Node needs this hook for it. Registered
  // first, so tsx's hooks (registered by tsImport) run before it and hand `?raw` on to it.
  register('../scripts/raw-loader.mjs', import.meta.url);
  const { tsImport } = await import('tsx/esm/api');
  return tsImport('../src/cli/main.ts', {
    parentURL: import.meta.url,
    // Pinned so running from another directory never picks up a foreign tsconfig.
    tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
  });
}

/**
 * Commands that open a Dawn device. Dawn dlopens the Vulkan loader at start-up, which reads
 * LD_LIBRARY_PATH only then, so these run in a child that starts with gpuEnv()'s additions;
 * `estimate` never pays for the re-exec.
 */
const GPU_COMMANDS = new Set(['run', 'bench']);

/** Signals that end a command; the wrapper passes each on to the child doing the work. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The child's marker (it also stops a loop should the child's gpuEnv() still find something to add). */
const CHILD_MARKER = 'VRAMLAB_GPU_ENV';

/**
 * Re-runs this command line in a child with gpuEnv()'s additions and resolves to its exit
 * status; null when nothing needs adding. Every signal in FORWARDED that reaches this process
 * (`kill <pid>`, `timeout`, a CI cancel) is passed on, and the child's way of ending is this
 * process's: its status, or the same signal. SIGINT travels as a message, since a Ctrl-C at a
 * terminal reaches both processes and must count once (the child ignores the signal itself);
 * the signal is sent too, for a child still starting that has not set that up yet. If this
 * process dies without a word (SIGKILL), the child sees the channel close and stops.
 */
function reexecWithGpuEnv() {
  const add = gpuEnv();
  if (Object.keys(add).length === 0 || process.env[CHILD_MARKER] === '1') return null;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...add, [CHILD_MARKER]: '1' },
    });
    const forward = (signal) => {
      if (signal === 'SIGINT' && child.connected) child.send({ vramlab: 'interrupt' }, () => undefined);
      child.kill(signal);
    };
    for (const s of FORWARDED) process.on(s, forward);
    child.on('error', (err) => {
      for (const s of FORWARDED) process.off(s, forward);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      if (signal) {
        // Ends this process the same way (status 128 + n to the shell), its handlers gone.
        process.kill(process.pid, signal);
        return;
      }
      resolve(code ?? 1);
    });
  });
}

/**
 * In the child: the wrapper passes Ctrl-C on as a message (see above), so the signal itself,
 * which a terminal sends to both processes, is ignored here. Returns the interrupt source the
 * CLI listens to; with nobody listening (no run in progress) an interrupt ends the process as
 * Ctrl-C would.
 */
function childInterrupts() {
  const listeners = new Set();
  process.on('SIGINT', () => {});
  process.on('message', (m) => {
    if (m?.vramlab !== 'interrupt') return;
    if (listeners.size === 0) process.exit(130);
    for (const l of [...listeners]) l();
  });
  // The wrapper is gone (killed with SIGKILL): nobody is waiting for this run any more.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  // The channel must not keep the process alive once the command is done.
  process.channel?.unref();
  return (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
}

const argv = process.argv.slice(2);
const isGpuCommand = GPU_COMMANDS.has(argv[0]);
const isChild = isGpuCommand && process.env[CHILD_MARKER] === '1' && typeof process.send === 'function';
const onInterrupt = isChild ? childInterrupts() : undefined;
let status;
try {
  status = isGpuCommand && !isChild ? await reexecWithGpuEnv() : null;
} catch (err) {
  process.stderr.write(`vramlab: cannot start the GPU process: ${String(err?.message ?? err).split('\n')[0]}\n`);
  status = 1;
}
if (status !== null) {
  process.exitCode = status;
} else {
  try {
    const { main, processIo, guardStdout } = await loadCli();
    guardStdout();
    process.exitCode = await main(argv, onInterrupt ? { ...processIo, onInterrupt } : processIo);
  } catch (err) {
    // main() reports its own errors; this is the CLI failing to load at all. Controls are
    // escaped as main.ts does (C0, DEL, C1, bidi).
    const message = String(err?.message ?? err)
      .split('\n')[0]
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    process.stderr.write(`vramlab: internal error: ${message}\n`);
    if (process.env.VRAMLAB_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
