import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
import { createMemoryJsonDriver } from '../src/index.js';

runDriverComplianceSuite({
  name: 'memory-json',
  factory: createMemoryJsonDriver(),
  // Child processes import the built package: build before testing.
  processes: { module: new URL('../dist/index.js', import.meta.url) },
});
