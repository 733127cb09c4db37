export { runDriverComplianceSuite } from './suite.js';
export type { ComplianceSuiteOptions } from './suite.js';
export { DriverHarness } from './context.js';
export { collect, commitWithFiles, deadPid, entry, inBatches } from './fixtures.js';
