/**
 * The production build, as users get it and as it is deployed: built into dist-e2e/ and served
 * by a plain static server under a sub-path (/sub/dir/, as GitHub Pages serves /<repo>/). Its
 * Content-Security-Policy must forbid eval (so a string smuggled in through a URL or a
 * config.json can never become code) and inline styles, the page must work under it with no
 * violation reported, from the sub-path, and offline after its first load (service worker).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { test, expect } from './fixtures.ts';

const OUT_DIR = 'dist-e2e';
const MOUNT = '/sub/dir/';
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

let server: Server | null = null;
let origin = '';
/** Requests for anything outside MOUNT: a page that assumes the site root makes them. */
const outside: string[] = [];

/** A static host with the build at MOUNT and nothing elsewhere (404), as GitHub Pages serves a project. */
async function serve(root: string): Promise<void> {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    if (!path.startsWith(MOUNT)) {
      outside.push(path);
      res.writeHead(404).end();
      return;
    }
    let rel = decodeURIComponent(path.slice(MOUNT.length));
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = join(root, normalize(rel));
    if (!file.startsWith(root)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stopServer(): Promise<void> {
  if (!server) return;
  const s = server;
  server = null;
  s.closeAllConnections();
  await new Promise((done) => s.close(done));
}

/** The policy the page runs under: the response header if any, else the meta element. */
function cspOf(headers: Record<string, string>, html: string): string {
  const header = headers['content-security-policy'];
  if (header) return header;
  const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html);
  return meta?.[1] ?? '';
}

function directive(policy: string, name: string): string[] | undefined {
  for (const part of policy.split(';')) {
    const [key, ...values] = part.trim().split(/\s+/);
    if (key === name) return values;
  }
  return undefined;
}

test.describe('production build', () => {
  test.beforeAll(async () => {
    test.setTimeout(120_000);
    execFileSync('npx', ['vite', 'build', '--outDir', OUT_DIR, '--emptyOutDir', '--logLevel', 'warn'], { stdio: 'inherit', env: { ...process.env, VRAMLAB_SOURCEMAP: '' } });
    await serve(resolve(OUT_DIR));
  });

  test.afterAll(async () => {
    await stopServer();
    rmSync(OUT_DIR, { recursive: true, force: true });
  });

  test('ships no source maps, and a service worker that lists the whole build', () => {
    const files = readdirSync(OUT_DIR, { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files).toContain('sw.js');
  });

  test('the served page has a CSP without unsafe-eval, eval is blocked, and the page still works', async ({ page }) => {
    const response = await page.goto(`${origin}${MOUNT}`);
    expect(response?.ok()).toBe(true);
    const policy = cspOf(response!.headers(), await response!.text());
    expect(policy, 'a Content-Security-Policy header or meta element').not.toBe('');
    expect(policy).not.toContain("'unsafe-eval'");
    const scriptSrc = directive(policy, 'script-src') ?? directive(policy, 'default-src');
    expect(scriptSrc).toBeDefined();
    expect(scriptSrc).not.toContain("'unsafe-inline'");
    expect(directive(policy, 'object-src')).toEqual(["'none'"]);
    // The build links its CSS and Lit adopts stylesheets: no inline styles needed.
    expect(directive(policy, 'style-src')).toEqual(["'self'"]);

    // The production build has no test hook.
    expect(await page.evaluate(() => window.__vramlab)).toBeUndefined();
    await expect(page.getByTestId('adapter-name')).toHaveText(/\S/);
    await expect(page.getByTestId('peak-bytes')).toContainText('GiB');

    // DevTools evaluation (what page.evaluate uses) may eval despite CSP, so the attempts run
    // later, from a timer: then they are the page's own code and the policy applies. The
    // violation events (queued as tasks) show it was the policy that refused them.
    const outcome = await page.evaluate(
      () =>
        new Promise<{ eval: string; fn: string; violations: string[] }>((resolve) => {
          const violations: string[] = [];
          document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
          setTimeout(() => {
            const attempt = (f: () => unknown): string => {
              try {
                return `ran: ${String(f())}`;
              } catch (e) {
                return (e as Error).name;
              }
            };
            const results = { eval: attempt(() => eval('1')), fn: attempt(() => new Function('return 1')()) };
            setTimeout(() => resolve({ ...results, violations }), 50);
          }, 0);
        }),
    );
    expect(outcome).toEqual({ eval: 'EvalError', fn: 'EvalError', violations: ['script-src eval', 'script-src eval'] });
  });

  test('works from a sub-path with no CSP violation, then offline once the service worker holds it', async ({ page, context }) => {
    await page.addInitScript(() => {
      const w = window as unknown as { cspViolations: string[] };
      w.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.cspViolations.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
    });
    const violations = () => page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);

    await page.goto(`${origin}${MOUNT}?b=4`);
    // The engine worker (a relative URL under the sub-path) is up and WebGPU answered.
    await expect(page.getByTestId('adapter-name')).toHaveText(/\S/, { timeout: 30_000 });
    await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
    expect(outside).toEqual([]);
    expect(await violations()).toEqual([]);

    // The service worker controls the page once installed (clients.claim on activate).
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

    // Offline: the browser's network cut and the host gone.
    await stopServer();
    await context.setOffline(true);
    try {
      await page.reload();
      await expect(page.getByTestId('adapter-name')).toHaveText(/\S/, { timeout: 30_000 });
      await expect(page.getByTestId('peak-bytes')).toContainText('GiB');
      expect(await violations()).toEqual([]);
    } finally {
      await context.setOffline(false);
    }
  });
});
