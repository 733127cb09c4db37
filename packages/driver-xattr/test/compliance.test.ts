import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
import { createXattrDriver } from '../src/index.js';

// Child processes load the built package, as an application would: build before testing.
runDriverComplianceSuite({
  name: 'xattr',
  factory: createXattrDriver(),
  processes: { module: new URL('../dist/index.js', import.meta.url) },
  scale: 5000,
});
