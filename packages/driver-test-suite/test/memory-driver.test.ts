import { createMemoryDriver } from '@imgcache/core/testing';
import { runDriverComplianceSuite } from '../src/index.js';

runDriverComplianceSuite({ name: 'memory', factory: createMemoryDriver() });
