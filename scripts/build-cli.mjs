// Builds what the npm package runs, into lib/ (npm runs it on `prepack`, so `npm pack`,
// `npm publish` and installs from git get it; `npm run build:cli` by hand):
//   lib/cli.mjs + lib/chunks/  the CLI, code-split: `--version`, `estimate` and `fit` load only
//                              the planner; the engine and `webgpu` load with `run` and `bench`;
//                              the TF.js bench in a chunk of its own
//   lib/index.mjs              the planner as a library (`import { estimate } from 'vramlab'`)
//   lib/types/                 its TypeScript declarations
//   lib/schemas/*.schema.json  JSON Schemas of the `--json` outputs (src/protocol/outputs.ts)
// Every dependency but `webgpu` (Dawn's native binding) and TensorFlow.js (optional, for
// `bench`) is bundled into the CLI; the library leaves zod to the package's dependencies.
// `--with-tfjs` bundles TF.js too (into its own chunk), for a machine with Node but no
// node_modules, such as a GPU machine set up with ../shared/gpu (see README "Performance").
//   node scripts/build-cli.mjs [OUT_DIR=lib] [--with-tfjs] [--no-types]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const args = process.argv.slice(2);
const withTfjs = args.includes('--with-tfjs');
const types = !args.includes('--no-types');
const out = resolve(root, args.find((a) => !a.startsWith('--')) ?? 'lib');

/** `import x from './f.wgsl?raw'` → the file's text, as Vite makes it. */
const raw = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: fileURLToPath(new URL(a.path.replace(/\?raw$/, ''), `file://${a.resolveDir}/`)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a) => ({ contents: await readFile(a.path, 'utf8'), loader: 'text' }));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const t0 = performance.now();
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/bin.ts' },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: withTfjs ? ['webgpu'] : ['webgpu', '@tensorflow/*'],
  plugins: [raw],
  // Bundled CommonJS (TF.js) calls require(); ESM output has none of its own. The version is
  // set here since the bundle may run with no package.json above it.
  banner: { js: `import { createRequire as __vramlabRequire } from 'node:module'; const require = __vramlabRequire(import.meta.url); globalThis.VRAMLAB_VERSION = ${JSON.stringify(pkg.version)};` },
  legalComments: 'none',
  logLevel: 'warning',
});

await build({
  absWorkingDir: root,
  entryPoints: { index: 'src/estimate/index.ts' },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'neutral',
  format: 'esm',
  target: 'es2022',
  packages: 'external',
  logLevel: 'warning',
});

// The JSON Schemas: src/protocol/outputs.ts bundled to a temporary module and asked for them.
const gen = join(out, '.schemas.mjs');
await build({ absWorkingDir: root, entryPoints: ['src/protocol/outputs.ts'], outfile: gen, bundle: true, platform: 'node', format: 'esm', logLevel: 'warning' });
const { outputJsonSchemas } = await import(pathToFileURL(gen).href);
rmSync(gen);
mkdirSync(join(out, 'schemas'));
for (const [name, schema] of Object.entries(outputJsonSchemas())) writeFileSync(join(out, 'schemas', `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`);

if (types) {
  // tsc writes the declarations with the sources' `.ts` specifiers; a consumer resolves `.js`.
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.lib.json'), '--outDir', join(out, 'types')], { stdio: 'inherit' });
  const rewrite = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) rewrite(p);
      else if (e.name.endsWith('.d.ts')) writeFileSync(p, readFileSync(p, 'utf8').replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2'));
    }
  };
  rewrite(join(out, 'types'));
}
console.log(`wrote ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
