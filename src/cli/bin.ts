/**
 * The entry of the bundled CLI (scripts/build-cli.mjs → dist/cli.mjs), for machines without
 * node_modules: the same main() as bin/vramlab.mjs, which runs the sources through tsx instead.
 * The GPU environment (VK_ICD_FILENAMES and the loader path) is the caller's to set.
 */
import { main } from './main.ts';

// `node dist/cli.mjs estimate | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
