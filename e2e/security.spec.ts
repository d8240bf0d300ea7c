/**
 * The production build, as users get it: built into dist-e2e/ and served by `vite preview`.
 * Its Content-Security-Policy must forbid eval (so a string smuggled in through a URL or a
 * config.json can never become code) and the page must still work under it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { test, expect } from './fixtures.ts';

const OUT_DIR = 'dist-e2e';
const PORT = 4179;
const ORIGIN = `http://127.0.0.1:${PORT}`;

let server: ChildProcess | null = null;

async function waitForServer(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > until) throw new Error(`vite preview did not answer at ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
    test.setTimeout(90_000);
    execFileSync('npx', ['vite', 'build', '--outDir', OUT_DIR, '--emptyOutDir', '--logLevel', 'warn'], { stdio: 'inherit' });
    // Its own process group, so afterAll can stop npx and the vite it started together.
    server = spawn('npx', ['vite', 'preview', '--outDir', OUT_DIR, '--port', String(PORT), '--strictPort', '--host', '127.0.0.1'], {
      stdio: 'ignore',
      detached: true,
    });
    await waitForServer(`${ORIGIN}/`, 30_000);
  });

  test.afterAll(() => {
    if (server?.pid !== undefined) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    server = null;
    rmSync(OUT_DIR, { recursive: true, force: true });
  });

  test('the served page has a CSP without unsafe-eval, eval is blocked, and the page still works', async ({ page }) => {
    const response = await page.goto(`${ORIGIN}/`);
    expect(response?.ok()).toBe(true);
    const policy = cspOf(response!.headers(), await response!.text());
    expect(policy, 'a Content-Security-Policy header or meta element').not.toBe('');
    expect(policy).not.toContain("'unsafe-eval'");
    const scriptSrc = directive(policy, 'script-src') ?? directive(policy, 'default-src');
    expect(scriptSrc).toBeDefined();
    expect(scriptSrc).not.toContain("'unsafe-inline'");
    expect(directive(policy, 'object-src')).toEqual(["'none'"]);

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
});
