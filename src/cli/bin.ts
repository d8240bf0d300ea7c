/**
 * The entry of the bundled CLI (scripts/build-cli.mjs → dist/cli.mjs), for machines without
 * node_modules: the same main() as bin/vramlab.mjs, which runs the sources through tsx instead.
 * The GPU environment (VK_ICD_FILENAMES and the loader path) is the caller's to set.
 */
import { guardStdout, main } from './main.ts';

guardStdout();
process.exitCode = await main(process.argv.slice(2));
