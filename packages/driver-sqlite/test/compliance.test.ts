import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
import { createSqliteDriver } from '../src/index.js';

// Child processes load the built package, as an application would: build before testing.
runDriverComplianceSuite({
  name: 'sqlite',
  factory: createSqliteDriver(),
  processes: { module: new URL('../dist/index.js', import.meta.url) },
  scale: 20_000,
});
