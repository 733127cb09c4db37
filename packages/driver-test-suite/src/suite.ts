import { afterEach, beforeEach, describe } from 'vitest';
import type { Driver } from '@imgcache/core';
import { concurrencyChecks } from './checks/concurrency.js';
import { durabilityChecks } from './checks/durability.js';
import { lruOrderChecks } from './checks/lru-order.js';
import { metadataChecks } from './checks/metadata.js';
import { reconcileChecks } from './checks/reconcile.js';
import { DriverHarness } from './context.js';
import type { ComplianceSuiteOptions, SuiteScope } from './options.js';

/**
 * Registers the driver compliance suite with vitest: one `describe` per concern (metadata,
 * LRU order, durability, concurrency, reconcile), each test on a scratch root of its own.
 * Checks a driver's declared capabilities rule out are reported as skipped, with the reason.
 * Call it once, at the top level of a test file:
 *
 * ```ts
 * import { runDriverComplianceSuite } from '@imgcache/driver-test-suite';
 * import { createMyDriver } from '../src/index.js';
 * runDriverComplianceSuite({ name: 'my-driver', factory: createMyDriver({ some: 'option' }) });
 * ```
 */
export function runDriverComplianceSuite(options: ComplianceSuiteOptions): void {
  let harness: DriverHarness | undefined;
  let driver: Driver | undefined;
  const scope: SuiteScope = {
    options,
    scale: options.scale ?? 5000,
    get harness() {
      if (!harness) throw new Error('the scratch root exists only inside a test');
      return harness;
    },
    get driver() {
      if (!driver) throw new Error('the driver is open only inside a test');
      return driver;
    },
    imagePath: (imageId) => scope.harness.layout.imagePath(imageId),
  };

  describe(`driver compliance: ${options.name}`, () => {
    beforeEach(async () => {
      harness = await DriverHarness.create(options.factory, options.tmpDir);
      driver = await harness.openDriver();
    });

    afterEach(async () => {
      await harness?.dispose();
      harness = undefined;
      driver = undefined;
    });

    metadataChecks(scope);
    lruOrderChecks(scope);
    durabilityChecks(scope);
    concurrencyChecks(scope);
    reconcileChecks(scope);
  });
}
