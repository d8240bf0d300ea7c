/**
 * The entry of the bundled CLI (scripts/build-cli.mjs → lib/cli.mjs). bin/vramlab.mjs imports it
 * for main(); run directly (`node lib/cli.mjs …`, as a GPU machine without node_modules does) it
 * runs the command line itself, the GPU environment (VK_ICD_FILENAMES, the loader path) being
 * the caller's to set.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guardStdout, main } from './main.ts';

export { guardStdout, main, processIo } from './main.ts';

const script = process.argv[1];
if (script !== undefined && realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))) {
  guardStdout();
  process.exitCode = await main(process.argv.slice(2));
}
