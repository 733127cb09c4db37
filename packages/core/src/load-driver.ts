import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import {
  DRIVER_CONTRACT_VERSION,
  type CreateDriver,
  type Driver,
  type DriverContext,
  type DriverFactory,
} from './driver.js';
import { driverContractProblems } from './driver-problems.js';
import {
  DriverConfigError,
  DriverContractError,
  DriverLoadError,
  DriverNotFoundError,
  ImgcacheError,
  InvalidOptionError,
} from './errors.js';
import { errnoCode } from './io/fs-errors.js';

/** Short names of the first-party drivers and the packages that provide them. */
export const FIRST_PARTY_DRIVERS: Readonly<Record<string, string>> = {
  sqlite: '@imgcache/driver-sqlite',
  xattr: '@imgcache/driver-xattr',
};

export const DEFAULT_DRIVER_PACKAGE = '@imgcache/driver-sqlite';

/** Imports a module by specifier; pass `(s) => import(s)` from your app so drivers resolve from it. */
export type Importer = (specifier: string) => Promise<unknown>;

/**
 * A driver by short name (`sqlite`, `xattr`) or package name, a factory made by a driver's
 * `create<Name>Driver(options)`, or a ready object.
 */
export type DriverSpec = string | Driver | DriverFactory;

export interface LoadDriverOptions {
  spec: DriverSpec;
  context: DriverContext;
  /**
   * Options for a driver named by `spec`, handed to its package's `create<Name>Driver`. A
   * factory or object was created with its options already, so options with one are refused.
   */
  driverOptions?: Readonly<Record<string, unknown>> | undefined;
  /** Fall back to SQLite when the driver is not installed or cannot be configured. */
  fallback: boolean;
  importer?: Importer | undefined;
  /** A file path or URL of the application, to resolve driver packages from (after core's own resolution). */
  resolveFrom?: string | URL | undefined;
}

export interface LoadedDriver {
  driver: Driver;
  /** Set when the requested driver could not be used and SQLite was opened instead. */
  fallbackCause?: ImgcacheError;
}

const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/**
 * Finds, imports and opens a driver: for a name, imports the package, calls its default
 * export `create<Name>Driver(driverOptions)` and opens the factory it returns on `context`.
 * Falls back to SQLite (opened with its default options), with a warning, when the driver
 * package is not installed or throws {@link DriverConfigError} while being created or
 * opened, unless `fallback` is false. A driver that is installed but fails to load, breaks
 * the contract, or fails any other way (a damaged store) is always an error.
 * @throws {InvalidOptionError} when `driverOptions` come with a factory or a driver object.
 * @throws {DriverNotFoundError | DriverConfigError | DriverLoadError | DriverContractError}
 *   or the driver's own error (for example `DriverStoreError`).
 */
export async function loadDriver(options: LoadDriverOptions): Promise<LoadedDriver> {
  const { spec, context, fallback, driverOptions } = options;
  checkDriverSpec(spec, driverOptions);
  if (typeof spec === 'object' && spec !== null) return { driver: checkContract(spec, String(spec.name)) };
  try {
    if (typeof spec === 'function') return { driver: await openWith(() => spec, context, spec.name || 'custom') };
    const packageName = driverPackageName(spec);
    const create = await importCreate(packageName, options);
    return { driver: await openWith(() => create(driverOptions ?? {}), context, spec, packageName) };
  } catch (error) {
    const usable =
      ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_NOT_FOUND') || ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_CONFIG');
    const isDefault = typeof spec === 'string' && driverPackageName(spec) === DEFAULT_DRIVER_PACKAGE;
    if (!fallback || !usable || isDefault) throw error;
    context.logger.warn(
      { driver: typeof spec === 'string' ? spec : 'custom', code: error.code, reason: error.message },
      `cache driver unavailable, falling back to sqlite: ${error.message}`,
    );
    const create = await importCreate(DEFAULT_DRIVER_PACKAGE, options);
    return { driver: await openWith(() => create(), context, 'sqlite', DEFAULT_DRIVER_PACKAGE), fallbackCause: error };
  }
}

/**
 * Checks a driver choice before anything touches the disk: a name must be a package name,
 * and options go only with a name.
 * @throws {InvalidOptionError} for a malformed name, or options given with a factory or object.
 */
export function checkDriverSpec(
  spec: DriverSpec | undefined,
  driverOptions: Readonly<Record<string, unknown>> | undefined,
): void {
  if (typeof spec === 'string') {
    driverPackageName(spec);
    return;
  }
  if (spec !== undefined && driverOptions !== undefined && Object.keys(driverOptions).length > 0) {
    throw new InvalidOptionError(
      'driverOptions',
      "they apply only to a driver named by package; pass them to the driver's create<Name>Driver(options) instead",
    );
  }
}

/**
 * The package a driver name refers to.
 * @throws {InvalidOptionError} when the name is neither a short name nor an npm package name.
 */
export function driverPackageName(name: string): string {
  const packageName = FIRST_PARTY_DRIVERS[name] ?? name;
  if (!PACKAGE_NAME.test(packageName)) {
    throw new InvalidOptionError('driver', `${JSON.stringify(name)} is neither sqlite, xattr nor an npm package name`);
  }
  return packageName;
}

async function importCreate(
  packageName: string,
  options: LoadDriverOptions,
): Promise<CreateDriver<Record<string, unknown>>> {
  const module = (await importPackage(packageName, options)) as { default?: unknown } | null;
  if (typeof module?.default !== 'function') {
    throw new DriverContractError(
      packageName,
      'the package has no default export; export create<Name>Driver(options) as the default',
    );
  }
  return module.default as CreateDriver<Record<string, unknown>>;
}

async function importPackage(packageName: string, options: LoadDriverOptions): Promise<unknown> {
  const attempt = async (load: () => Promise<unknown>): Promise<unknown> => {
    try {
      return await load();
    } catch (error) {
      if (isMissingPackage(error, packageName)) throw new DriverNotFoundError(packageName, { cause: error });
      throw new DriverLoadError(packageName, { cause: error });
    }
  };
  if (options.importer) return attempt(() => options.importer!(packageName));
  try {
    return await attempt(() => import(packageName));
  } catch (error) {
    const { resolveFrom } = options;
    if (!resolveFrom || !ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_NOT_FOUND')) throw error;
    // Core's own resolution cannot see the application's dependencies under pnpm's
    // symlinked layout, so resolve from the application as well.
    return attempt(async () => {
      const resolved = createRequire(resolveFrom).resolve(packageName);
      return import(pathToFileURL(resolved).href);
    });
  }
}

/** Only the package itself being absent counts as "not installed"; a missing dependency of it is a broken install. */
function isMissingPackage(error: unknown, packageName: string): boolean {
  const code = errnoCode(error);
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = error instanceof Error ? error.message : '';
  return message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`);
}

/**
 * Makes the factory (`create<Name>Driver(options)`, where options are checked) and opens it.
 * `packageName` is set for a driver loaded by name, whose default export must return a factory.
 */
async function openWith(
  makeFactory: () => unknown,
  context: DriverContext,
  label: string,
  packageName?: string,
): Promise<Driver> {
  let driver: Driver;
  try {
    const factory = makeFactory();
    if (typeof factory !== 'function') {
      // A contract 1 package opens a driver here instead: never leave its promise unobserved.
      if (isThenable(factory)) factory.then(undefined, () => undefined);
      throw new DriverContractError(
        packageName ?? label,
        `its default export returned ${describeValue(factory)}, not a factory: contract version ${DRIVER_CONTRACT_VERSION} expects create<Name>Driver(options) to return (context) => Promise<Driver>`,
      );
    }
    driver = await (factory as DriverFactory)(context);
  } catch (error) {
    if (ImgcacheError.is(error)) throw error;
    if (errnoCode(error) === 'ENOTSUP' || errnoCode(error) === 'EOPNOTSUPP') {
      throw new DriverConfigError(label, (error as Error).message, { cause: error });
    }
    throw error;
  }
  return checkContract(driver, label);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (isThenable(value)) return 'a promise (a driver for contract 1?)';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function checkContract(driver: Driver, label: string): Driver {
  const problems = driverContractProblems(driver);
  if (problems.length > 0) throw new DriverContractError(label, problems.join('; '));
  return driver;
}
