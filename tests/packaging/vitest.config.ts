import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    // The npm install and the quick start's pnpm install each compile better-sqlite3 (about a
    // minute on 2 cores); one file at a time, so the two compiles do not share the cores.
    fileParallelism: false,
    testTimeout: 360_000,
    hookTimeout: 120_000,
  },
});
