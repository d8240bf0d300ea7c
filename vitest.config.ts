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
          // Two files at a time, each in a forked worker with a Dawn instance of its own (never
          // threads: workers sharing one Vulkan instance are not safe). On a CPU adapter most of
          // a GPU test's time is compiling pipelines, one core each, so two workers overlap it.
          pool: 'forks',
          fileParallelism: true,
          maxWorkers: 2,
          testTimeout: 120_000,
          // The soak test measures the JS heap after explicit collections.
          execArgv: ['--expose-gc'],
        },
      },
    ],
  },
});
