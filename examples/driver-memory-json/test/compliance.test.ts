import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
import createMemoryJsonDriver from '../src/index.js';

runDriverComplianceSuite({ name: 'memory-json', factory: createMemoryJsonDriver });
