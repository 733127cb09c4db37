import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
import createXattrDriver from '../src/index.js';

runDriverComplianceSuite({ name: 'xattr', factory: createXattrDriver, scale: 5000 });
