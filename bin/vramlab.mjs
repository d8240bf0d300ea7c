#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so a clone works after `npm install` with no build.
import { spawnSync } from 'node:child_process';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { gpuEnv } from '../scripts/env.mjs';

/**
 * Commands that open a Dawn device. Dawn dlopens the Vulkan loader at start-up, which reads
 * LD_LIBRARY_PATH and VK_ICD_FILENAMES only then, so these run in a child that starts with
 * them; `estimate` never pays for the re-exec.
 */
const GPU_COMMANDS = new Set(['run', 'bench']);

/** Re-runs this command line in a child with gpuEnv()'s additions; null when none are missing. */
function reexecWithGpuEnv() {
  const add = gpuEnv();
  if (Object.keys(add).length === 0 || process.env.VRAMLAB_GPU_ENV === '1') return null;
  // Ctrl-C reaches the child too, which stops its run between steps and frees everything: this
  // process must outlive it rather than die first and hand the terminal back mid-run.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    // The marker stops a loop should the child's gpuEnv() still find something to add.
    env: { ...process.env, ...add, VRAMLAB_GPU_ENV: '1' },
  });
  process.off('SIGINT', ignore);
  if (child.error) throw child.error;
  if (child.signal) process.kill(process.pid, child.signal);
  return child.status ?? 1;
}

// `vramlab estimate | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const argv = process.argv.slice(2);
const status = GPU_COMMANDS.has(argv[0]) ? reexecWithGpuEnv() : null;
if (status !== null) {
  process.exitCode = status;
} else {
  try {
    // The engine imports its WGSL with Vite's `?raw`; plain Node needs this hook for it. Registered
    // first, so tsx's hooks (registered by tsImport) run before it and hand `?raw` on to it.
    register('../scripts/raw-loader.mjs', import.meta.url);
    const { main } = await tsImport('../src/cli/main.ts', {
      parentURL: import.meta.url,
      // Pinned so running from another directory never picks up a foreign tsconfig.
      tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    });
    process.exitCode = await main(argv);
  } catch (err) {
    // main() reports its own errors; this is the sources failing to load at all.
    process.stderr.write(`vramlab: internal error: ${String(err?.message ?? err).split('\n')[0]}\n`);
    if (process.env.VRAMLAB_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
