import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    // The binary's smoke tests run dist/bin.js, so build it first (unless it is fresh).
    globalSetup: ['../../scripts/vitest-build-once.mjs'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
