import type { Driver, DriverFactory } from '@imgcache/core';
import type { DriverHarness } from './context.js';

/** How a child process makes the same driver: the module, its create function and the options. */
export interface DriverModule {
  /** File URL or absolute path of an ES module (your built entry point, e.g. `new URL('../dist/index.js', import.meta.url)`). */
  module: string | URL;
  /** The export that is `create<Name>Driver`. Default `default`. */
  exportName?: string;
  /** Options for it, as JSON (functions do not cross a process boundary). Default none. */
  options?: Record<string, unknown>;
}

export interface ComplianceSuiteOptions {
  /** Shown in the test names. */
  name: string;
  /** The driver under test, made by its `create<Name>Driver(options)`; opened several times per test to check reopening. */
  factory: DriverFactory;
  /**
   * How child processes open the same driver. Needed for the checks that use other
   * processes: durability after a crash, and (when the driver declares
   * `capabilities.multiProcess`) several processes on one root. Without it, those checks are
   * skipped, or fail when the driver claims `multiProcess`.
   */
  processes?: DriverModule;
  /** Parent directory for scratch cache roots (default: the OS temp dir). Use a path on the
   * filesystem the driver needs, e.g. one with extended attributes. */
  tmpDir?: string;
  /** Entries for the scale check. Default 5000. */
  scale?: number;
}

/** What each group of checks reads: the suite's options and, inside a test, the scratch root and the driver open on it. */
export interface SuiteScope {
  readonly options: ComplianceSuiteOptions;
  readonly scale: number;
  readonly harness: DriverHarness;
  readonly driver: Driver;
  /** Path of an image file in the scratch root. */
  imagePath(imageId: string): string;
}
