export { runDriverComplianceSuite } from './suite.js';
export type { ComplianceSuiteOptions, DriverModule } from './options.js';
export { DriverHarness, driverContext } from './context.js';
export { collect, commitWithFiles, deadPid, entry } from './fixtures.js';
