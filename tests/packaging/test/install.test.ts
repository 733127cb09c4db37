import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAll, publishablePackages } from '../../../scripts/check-packages.mjs';

const run = promisify(execFile);

/** The apps checked from their installed tarballs once they are built, with their bin names. */
const APPS = [
  { name: '@imgcache/cli', bin: 'imgcache' },
  { name: '@imgcache/server', bin: 'imgcache-server' },
];

const workspacePackages = await publishablePackages();

/** Whether a workspace app has been built (its bin exists), so its tarball can run. */
function appReady(name: string): boolean {
  const pkg = workspacePackages.find((candidate) => candidate.name === name);
  return pkg !== undefined && existsSync(join(pkg.dir, 'dist', 'bin.js'));
}

/** Opens a cache in the installed project and prints which driver core picked. */
const OPEN_CACHE = `
import { ImageCache, silentLogger } from '@imgcache/core';
const [dir, driver] = process.argv.slice(1);
const cache = await ImageCache.open({ dir, logger: silentLogger, fallback: false, ...(driver ? { driver } : {}) });
const cached = await cache.cacheImageIter('install-check', [Buffer.from('installed from a tarball')]);
const images = await cache.getCachedImages();
await cache.close();
console.log(JSON.stringify({ driverName: cache.driverName, cached, images: images.length }));
`;

/** npm builds native addons against the headers next to this Node when they exist, as scripts/setup.mjs does. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  // Settings pnpm passes to its scripts would leak into npm; this project is plain npm.
  for (const key of Object.keys(env))
    if (key.startsWith('npm_config_') && /workspace|pnpm|store|virtual/.test(key)) delete env[key];
  // node-gyp compiles better-sqlite3's two translation units side by side.
  env.JOBS ??= String(availableParallelism());
  const prefix = dirname(dirname(process.execPath));
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi')))
    env.npm_config_nodedir = prefix;
  return env;
}

describe('installing the packed tarballs with plain npm, outside the workspace', () => {
  let packedDir = '';
  let project = '';
  const tarballs = new Map<string, string>();

  /** Writes the project's package.json with `names` as its only dependencies, then runs npm install. */
  async function install(names: string[]): Promise<void> {
    const spec = (name: string) => `file:${tarballs.get(name)}`;
    const manifest = {
      name: 'imgcache-install-check',
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(names.map((name) => [name, spec(name)])),
      // Our packages are not on the registry yet: every @imgcache range, including the peers
      // npm installs by itself, resolves to the fresh tarball instead.
      overrides: Object.fromEntries([...tarballs.keys()].map((name) => [name, spec(name)])),
    };
    await writeFile(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
      env: npmEnv(),
      timeout: 240_000,
      maxBuffer: 32 * 1024 * 1024,
    });
  }

  async function openCache(driver?: string): Promise<{ driverName: string; cached: boolean; images: number }> {
    const dir = await mkdtemp(join(project, 'cache-'));
    const args = ['--input-type=module', '-e', OPEN_CACHE, '--', dir, ...(driver ? [driver] : [])];
    const { stdout } = await run(process.execPath, args, { cwd: project, timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!);
  }

  async function lockedPackage(name: string): Promise<{ version?: string; peer?: boolean } | undefined> {
    const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8'));
    return lock.packages[`node_modules/${name}`];
  }

  beforeAll(async () => {
    const result = await packAll();
    packedDir = result.dir;
    for (const [name, { tarball }] of result.packed) tarballs.set(name, tarball);
    project = await mkdtemp(join(tmpdir(), 'imgcache-install-'));
  });

  afterAll(async () => {
    for (const dir of [project, packedDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('core alone gets the SQLite default through its peer dependency', async () => {
    await install(['@imgcache/core']);
    // npm installed the driver by itself, as core's required peer; the optional xattr peer stays out.
    expect(await lockedPackage('@imgcache/driver-sqlite')).toMatchObject({ peer: true });
    expect(await lockedPackage('@imgcache/driver-xattr')).toBeUndefined();
    expect(await openCache()).toEqual({ driverName: 'sqlite', cached: true, images: 1 });
  });

  it('core + xattr opens the xattr driver by name', async () => {
    await install(['@imgcache/core', '@imgcache/driver-xattr']);
    expect(await openCache('xattr')).toEqual({ driverName: 'xattr', cached: true, images: 1 });
    expect(await openCache()).toMatchObject({ driverName: 'sqlite' });
  });

  // One install for both apps, shared by their checks.
  let appsInstalled: Promise<void> | undefined;

  for (const app of APPS) {
    it(`npx ${app.bin} --help runs from the installed ${app.name} tarball`, async () => {
      expect(appReady(app.name), `${app.name} must be built before packing`).toBe(true);
      appsInstalled ??= install(['@imgcache/core', '@imgcache/driver-xattr', ...APPS.map((built) => built.name)]);
      await appsInstalled;
      const { stdout } = await run('npx', ['--no', '--', app.bin, '--help'], {
        cwd: project,
        env: npmEnv(),
        timeout: 60_000,
      });
      expect(stdout).toMatch(/usage/i);
      expect(stdout).toContain(app.bin);
    });
  }
});
