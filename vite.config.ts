import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { build as esbuild } from 'esbuild';
import { defineConfig, type Plugin } from 'vite';

/**
 * The production page's CSP without `style-src 'unsafe-inline'`: Vite's dev server injects CSS
 * as <style> elements and needs it; the build links its CSS, and Lit adopts constructed
 * stylesheets, so the built page needs no inline styles.
 */
function strictStyleCsp(): Plugin {
  return {
    name: 'vramlab:strict-style-csp',
    apply: 'build',
    transformIndexHtml(html) {
      const out = html.replace("style-src 'self' 'unsafe-inline'", "style-src 'self'");
      if (out === html) throw new Error("index.html: the CSP has no style-src 'self' 'unsafe-inline' to tighten; update vite.config.ts");
      return out;
    },
  };
}

/**
 * Emits sw.js (src/service-worker.ts) beside index.html once the build is written, with every
 * file of the build (source maps aside) as its precache list and a cache name from their hashes.
 * Hand-written rather than vite-plugin-pwa: the shell is one page and a folder of hashed files,
 * which ~50 lines cache exactly; Workbox would add a large dependency tree for the same.
 */
function serviceWorker(): Plugin {
  let outDir = '';
  return {
    name: 'vramlab:service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else files.push(relative(outDir, p).split(sep).join('/'));
        }
      };
      walk(outDir);
      const shell = files.filter((f) => f !== 'sw.js' && !f.endsWith('.map')).sort();
      const hash = createHash('sha256');
      for (const f of shell) hash.update(f).update(readFileSync(join(outDir, f)));
      await esbuild({
        entryPoints: [resolve(import.meta.dirname, 'src/service-worker.ts')],
        outfile: join(outDir, 'sw.js'),
        bundle: true,
        format: 'iife',
        target: 'es2022',
        minify: true,
        define: {
          // The page itself as './' (what a visitor's URL names) and as index.html.
          PRECACHE: JSON.stringify(['./', ...shell.map((f) => `./${f}`)]),
          CACHE_NAME: JSON.stringify(`vramlab-${hash.digest('hex').slice(0, 16)}`),
        },
        logLevel: 'warning',
      });
    },
  };
}

export default defineConfig({
  // Relative asset URLs: the built page works from any sub-path (GitHub Pages' /<repo>/, a folder
  // on any static host), not only from the site root.
  base: './',
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  // No source maps in the deployed page unless asked for: VRAMLAB_SOURCEMAP=1 npm run build.
  build: { target: 'es2022', sourcemap: process.env.VRAMLAB_SOURCEMAP === '1' },
  plugins: [strictStyleCsp(), serviceWorker()],
});
