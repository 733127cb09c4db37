import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // The suites kill processes and mount filesystems; one file at a time keeps them from
    // starving each other on two cores.
    fileParallelism: false,
  },
});
