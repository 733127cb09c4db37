import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DRIVER_CONTRACT_VERSION,
  DriverConfigError,
  DriverContractError,
  DriverLoadError,
  DriverNotFoundError,
  ImageCache,
  ImgcacheError,
  type DriverFactory,
} from '../src/index.js';
import { MemoryDriver, createMemoryDriver } from '../src/testing/index.js';
import { capturingLogger, tempDir } from './helpers.js';

/** Writes a real package into `<dir>/node_modules/<name>` with the given entry module. */
async function installPackage(dir: string, name: string, source: string): Promise<void> {
  const root = join(dir, 'node_modules', name);
  await mkdir(root, { recursive: true });
  await writeFile(
    join(root, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', type: 'module', exports: { '.': { default: './index.js' } } }),
  );
  await writeFile(join(root, 'index.js'), source);
}

async function open(options: Partial<Parameters<typeof ImageCache.open>[0]>) {
  const dir = await tempDir();
  const logger = capturingLogger();
  const cache = await ImageCache.open({ dir, logger, ...options });
  return { cache, logger, dir };
}

describe('loading drivers', () => {
  it('uses SQLite by default, found from core itself', async () => {
    const { cache } = await open({});
    expect(cache.driverName).toBe('sqlite');
    await cache.close();
  });

  it('accepts a driver object or a factory', async () => {
    const dir = await tempDir();
    const byFactory = await ImageCache.open({ dir, driver: createMemoryDriver() });
    expect(byFactory.driverName).toBe('memory');
    await byFactory.close();
    const byObject = await ImageCache.open({ dir, driver: new MemoryDriver(new Map()) });
    expect(byObject.driverName).toBe('memory');
    await byObject.close();
  });

  it('falls back to SQLite with a warning when the package is not installed', async () => {
    const { cache, logger } = await open({ driver: 'imgcache-driver-that-does-not-exist' });
    expect(cache.driverName).toBe('sqlite');
    const warning = logger.lines.find((line) => line.level === 'warn');
    expect(warning?.text).toMatch(/imgcache-driver-that-does-not-exist is not installed/);
    await cache.close();
  });

  it('with fallback off, a missing package is an error that says what to install', async () => {
    const error = await open({ driver: 'xattr', fallback: false, importer: (s) => import(`${s}-not-here`) }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImgcacheError);
    expect((error as ImgcacheError).code).toBe('ERR_IMGCACHE_DRIVER_LOAD');
    const missing = await open({ driver: 'imgcache-driver-absent', fallback: false }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DriverNotFoundError);
    expect((missing as Error).message).toMatch(/npm install imgcache-driver-absent/);
  });

  it('falls back when the driver cannot be configured here', async () => {
    const unusable: DriverFactory = async () => {
      throw new DriverConfigError('picky', 'this filesystem has no extended attributes');
    };
    const { cache, logger } = await open({ driver: unusable });
    expect(cache.driverName).toBe('sqlite');
    expect(logger.lines.some((line) => line.level === 'warn' && /no extended attributes/.test(line.text))).toBe(true);
    await cache.close();
    await expect(open({ driver: unusable, fallback: false })).rejects.toThrow(DriverConfigError);
  });

  it('loads a third-party driver package by name from the application', async () => {
    const app = await tempDir();
    await installPackage(
      app,
      'imgcache-driver-example',
      `import { createMemoryDriver } from ${JSON.stringify(new URL('../dist/testing/index.js', import.meta.url).href)};
       export default createMemoryDriver;`,
    );
    const { cache } = await open({
      driver: 'imgcache-driver-example',
      fallback: false,
      resolveFrom: join(app, 'app.js'),
    });
    expect(cache.driverName).toBe('memory');
    await cache.close();
  });

  it('fails loudly, without falling back, when an installed driver is broken', async () => {
    const app = await tempDir();
    await installPackage(
      app,
      'imgcache-driver-broken',
      `import 'native-binding-that-is-missing'; export default async () => ({});`,
    );
    const error = await open({ driver: 'imgcache-driver-broken', resolveFrom: join(app, 'app.js') }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverLoadError);
    expect((error as Error).message).toMatch(/native-binding-that-is-missing/);
  });

  it('refuses a driver built for another contract version', async () => {
    const futureDriver = Object.assign(new MemoryDriver(new Map()), { contractVersion: DRIVER_CONTRACT_VERSION + 1 });
    const error = await open({ driver: futureDriver }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverContractError);
    expect((error as Error).message).toMatch(new RegExp(`contract version ${DRIVER_CONTRACT_VERSION + 1}`));
    const incomplete = await open({
      driver: async () => ({ name: 'half', contractVersion: DRIVER_CONTRACT_VERSION }) as never,
    }).catch((e: unknown) => e);
    expect((incomplete as Error).message).toMatch(/no get\(\) method/);
    expect((incomplete as Error).message).toMatch(/does not declare capabilities\.multiProcess/);
  });

  it("hands driverOptions to the named package's create function, and only to it", async () => {
    const app = await tempDir();
    const memory = JSON.stringify(new URL('../dist/testing/index.js', import.meta.url).href);
    await installPackage(
      app,
      'imgcache-driver-options',
      `import { createMemoryDriver } from ${memory};
       export default (options = {}) => async (context) => Object.assign(await createMemoryDriver()(context), { name: 'options-' + options.label });`,
    );
    const { cache } = await open({
      driver: 'imgcache-driver-options',
      driverOptions: { label: 'seen' },
      fallback: false,
      resolveFrom: join(app, 'app.js'),
    });
    expect(cache.driverName).toBe('options-seen');
    await cache.close();
  });

  it('refuses driverOptions with a factory or a driver object, before creating the directory', async () => {
    const parent = await tempDir();
    for (const driver of [createMemoryDriver(), new MemoryDriver(new Map())]) {
      const dir = join(parent, 'not-created');
      const error = await ImageCache.open({ dir, driver, driverOptions: { fileName: 'x' } }).catch((e: unknown) => e);
      expect(ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toMatch(/create<Name>Driver\(options\)/);
      await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('refuses a package whose default export opens a driver itself (contract 1) as a contract error', async () => {
    const app = await tempDir();
    await installPackage(
      app,
      'imgcache-driver-old',
      `export default async (context) => { throw new Error('context.root is ' + context.root); };`,
    );
    const error = await open({ driver: 'imgcache-driver-old', resolveFrom: join(app, 'app.js') }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverContractError);
    expect((error as Error).message).toMatch(/returned a promise .*create<Name>Driver\(options\)/);
  });

  it("falls back to SQLite with its own defaults, never the failed driver's options", async () => {
    const app = await tempDir();
    await installPackage(
      app,
      'imgcache-driver-picky',
      `import { DriverConfigError } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
       export default () => async () => { throw new DriverConfigError('picky', 'not here'); };`,
    );
    // Given to SQLite, this filename would put its database outside the cache root.
    const { cache, dir } = await open({
      driver: 'imgcache-driver-picky',
      driverOptions: { filename: '../elsewhere.sqlite' },
      resolveFrom: join(app, 'app.js'),
    });
    expect(cache.driverName).toBe('sqlite');
    await cache.close();
    expect(await readdir(dir)).toContain('cache.sqlite');
  });

  it('rejects a driver name that is not a package name', async () => {
    await expect(open({ driver: '../../etc/evil' })).rejects.toMatchObject({ code: 'ERR_IMGCACHE_INVALID_OPTION' });
  });
});
