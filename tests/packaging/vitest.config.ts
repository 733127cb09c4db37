import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    // One npm install compiles better-sqlite3 (about a minute on 2 cores); the rest is quick.
    testTimeout: 360_000,
    hookTimeout: 120_000,
  },
});
