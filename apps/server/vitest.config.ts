import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    passWithNoTests: true,
    // The binary tests drive dist/bin.js, so build it first (unless it is fresh); the cluster tests need a PostgreSQL.
    globalSetup: ['../../scripts/vitest-build-once.mjs', 'test/cluster/helpers/postgres-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
