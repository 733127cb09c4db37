import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    // The example rewrites and fsyncs its whole JSON file on every change (simple on purpose):
    // the suite's 2500-entry scan takes ~30 s on a busy 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
