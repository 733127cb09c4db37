import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
import createSqliteDriver from '../src/index.js';

runDriverComplianceSuite({ name: 'sqlite', factory: createSqliteDriver, scale: 20_000 });
