import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Property tests run thousands of cases; on a busy 2-core machine 5 s is too tight.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          environment: 'node',
          // Dawn is not fork-safe across workers sharing one Vulkan instance: one file at a time.
          fileParallelism: false,
          testTimeout: 120_000,
          // The soak test measures the JS heap after explicit collections.
          execArgv: ['--expose-gc'],
        },
      },
    ],
  },
});
