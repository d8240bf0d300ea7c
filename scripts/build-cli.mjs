// Bundles the CLI into dist/cli.mjs: one file with every dependency but `webgpu` (Dawn's native
// binding, which the GPU kit restores beside it), for a machine that has Node but no
// node_modules, such as a GPU machine set up with ../shared/gpu (see README "Performance").
// The WGSL's `?raw` imports become strings, as Vite makes them.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));

/** `import x from './f.wgsl?raw'` → the file's text. */
const raw = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: fileURLToPath(new URL(args.path.replace(/\?raw$/, ''), `file://${args.resolveDir}/`)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

const out = process.argv[2] ?? 'dist/cli.mjs';
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/bin.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [raw],
  // Bundled CommonJS (TF.js) calls require(); ESM output has none of its own.
  banner: { js: `import { createRequire as __vramlabRequire } from 'node:module'; const require = __vramlabRequire(import.meta.url); globalThis.VRAMLAB_VERSION = ${JSON.stringify(pkg.version)};` },
  logLevel: 'warning',
});
console.log(`wrote ${out}`);
