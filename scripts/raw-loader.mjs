// Node module-customization hooks that give `import src from './x.wgsl?raw'` the meaning Vite
// gives it: the file's text as the default export. Vite and Vitest do this themselves; the CLI
// runs the same sources under plain Node + tsx, which does not. Registered by bin/vramlab.mjs
// with node:module `register` (Node ≥ 20.6), before tsx's own hooks.
// https://nodejs.org/api/module.html#customization-hooks
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const RAW = /\?raw$/;

/**
 * `…?raw` → the file's URL with a `raw` query. The rest of the chain (tsx, when it runs first)
 * may add query parameters of its own, so load() looks for the parameter, not the suffix.
 */
export async function resolve(specifier, context, nextResolve) {
  if (!RAW.test(specifier)) return nextResolve(specifier, context);
  // The default resolver checks that the file exists and gives the usual ERR_MODULE_NOT_FOUND.
  const { url } = await nextResolve(specifier.replace(RAW, ''), context);
  const u = new URL(url);
  u.searchParams.set('raw', '');
  return { url: u.href, format: 'module', shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  const u = new URL(url);
  if (u.protocol !== 'file:' || !u.searchParams.has('raw')) return nextLoad(url, context);
  u.search = '';
  const text = await readFile(fileURLToPath(u), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};\n`, shortCircuit: true };
}
