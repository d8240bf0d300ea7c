import { defineConfig, devices } from '@playwright/test';

/**
 * Fixed so the dev server and the tests agree; strictPort makes a clash fail loudly.
 * VRAMLAB_E2E_PORT moves it, so two checkouts can run their e2e tests side by side.
 */
const PORT = Number(process.env.VRAMLAB_E2E_PORT ?? 5178);
const BASE_URL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'e2e',
  // SwiftShader runs WebGPU on the CPU and the machine has 2 cores: one browser at a time.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  outputDir: 'test-results/playwright',
  reporter: [['list'], ['json', { outputFile: process.env.PLAYWRIGHT_JSON_OUTPUT_NAME ?? 'test-results/playwright.json' }]],
  use: {
    // WebGPU needs a secure context: localhost over http qualifies, file:// does not.
    baseURL: BASE_URL,
    headless: true,
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        viewport: { width: 1400, height: 1000 },
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          // --enable-unsafe-webgpu gives headless Chromium on a GPU-less machine the SwiftShader adapter.
          args: [
            '--no-sandbox',
            '--enable-unsafe-webgpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
  ],
  webServer: {
    command: `npx vite --port ${PORT} --strictPort --host 127.0.0.1`,
    url: BASE_URL,
    // Never reuse: a server already on the port may be serving another checkout's sources.
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
