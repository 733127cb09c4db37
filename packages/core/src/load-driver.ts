import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { driverContractProblems, type Driver, type DriverContext, type DriverFactory } from './driver.js';
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

/** A driver by short name (`sqlite`, `xattr`), package name, factory, or ready object. */
export type DriverSpec = string | Driver | DriverFactory;

export interface LoadDriverOptions {
  spec: DriverSpec;
  context: DriverContext;
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
 * Finds, imports and opens a driver. Falls back to SQLite, with a warning, when the driver
 * package is not installed or throws {@link DriverConfigError} while opening, unless
 * `fallback` is false. A driver that is installed but fails to load, or breaks the
 * contract, is always an error.
 * @throws {DriverNotFoundError | DriverConfigError | DriverLoadError | DriverContractError}
 */
export async function loadDriver(options: LoadDriverOptions): Promise<LoadedDriver> {
  const { spec, context, fallback } = options;
  if (typeof spec === 'object' && spec !== null) return { driver: checkContract(spec, String(spec.name)) };
  try {
    if (typeof spec === 'function') return { driver: await openWith(spec, context, spec.name || 'custom') };
    const packageName = driverPackageName(spec);
    const factory = await importFactory(packageName, options);
    return { driver: await openWith(factory, context, spec) };
  } catch (error) {
    const usable = ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_NOT_FOUND') || ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_CONFIG');
    const isDefault = typeof spec === 'string' && driverPackageName(spec) === DEFAULT_DRIVER_PACKAGE;
    if (!fallback || !usable || isDefault) throw error;
    context.logger.warn(
      { driver: typeof spec === 'string' ? spec : 'custom', code: error.code, reason: error.message },
      `cache driver unavailable, falling back to sqlite: ${error.message}`,
    );
    const factory = await importFactory(DEFAULT_DRIVER_PACKAGE, options);
    return { driver: await openWith(factory, context, 'sqlite'), fallbackCause: error };
  }
}

/** The package a driver name refers to. */
export function driverPackageName(name: string): string {
  const packageName = FIRST_PARTY_DRIVERS[name] ?? name;
  if (!PACKAGE_NAME.test(packageName)) {
    throw new InvalidOptionError('driver', `${JSON.stringify(name)} is neither sqlite, xattr nor an npm package name`);
  }
  return packageName;
}

async function importFactory(packageName: string, options: LoadDriverOptions): Promise<DriverFactory> {
  const module = await importPackage(packageName, options);
  const candidate = module as { default?: unknown; createDriver?: unknown } | null;
  const factory = typeof candidate?.default === 'function' ? candidate.default : candidate?.createDriver;
  if (typeof factory !== 'function') {
    throw new DriverContractError(packageName, 'the package has no default export (or createDriver export) that opens a driver');
  }
  return factory as DriverFactory;
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

async function openWith(factory: DriverFactory, context: DriverContext, label: string): Promise<Driver> {
  let driver: Driver;
  try {
    driver = await factory(context);
  } catch (error) {
    if (ImgcacheError.is(error)) throw error;
    if (errnoCode(error) === 'ENOTSUP' || errnoCode(error) === 'EOPNOTSUPP') {
      throw new DriverConfigError(label, (error as Error).message, { cause: error });
    }
    throw error;
  }
  return checkContract(driver, label);
}

function checkContract(driver: Driver, label: string): Driver {
  const problems = driverContractProblems(driver);
  if (problems.length > 0) throw new DriverContractError(label, problems.join('; '));
  return driver;
}
