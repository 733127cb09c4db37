import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheDirectoryError, ImageCache, ImgcacheError, InvalidOptionError, silentLogger } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { tempDir } from './helpers.js';
import { mountReadOnly } from './mount.js';

async function openError(dir: string): Promise<unknown> {
  return ImageCache.open({ dir, driver: createMemoryDriver(), logger: silentLogger }).then(
    async (cache) => {
      await cache.close();
      return undefined;
    },
    (error: unknown) => error,
  );
}

describe('cache directory creation', () => {
  it('reports EROFS with the path for a new directory on a read-only filesystem', async (context) => {
    const mount = await mountReadOnly();
    if ('skipReason' in mount) return context.skip(mount.skipReason);
    try {
      const dir = join(mount.dir, 'cache');
      const error = await openError(dir);
      expect(error).toBeInstanceOf(CacheDirectoryError);
      expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CACHE_DIR')).toBe(true);
      expect(error).toMatchObject({ path: dir, errno: 'EROFS' });
      expect((error as Error).message).toContain(
        `Cannot use cache directory ${dir}: EROFS: the filesystem is mounted read-only`,
      );
    } finally {
      await mount.unmount();
    }
  });

  it('reports EROFS for an existing directory on a read-only filesystem', async (context) => {
    const mount = await mountReadOnly();
    if ('skipReason' in mount) return context.skip(mount.skipReason);
    try {
      const error = await openError(mount.dir);
      expect(error).toMatchObject({ code: 'ERR_IMGCACHE_CACHE_DIR', errno: 'EROFS' });
      expect((error as Error).message).toContain(mount.dir);
    } finally {
      await mount.unmount();
    }
  });

  // Node's recursive mkdir retries this forever; the test's own timeout is the bound.
  it('fails, without looping, where the filesystem refuses new directories (/proc)', {
    timeout: 10_000,
  }, async (context) => {
    if (!existsSync('/proc/self')) return context.skip('this host has no /proc');
    const error = await openError('/proc/imgcache');
    expect(error).toMatchObject({ code: 'ERR_IMGCACHE_CACHE_DIR', path: '/proc/imgcache', errno: 'ENOENT' });
    expect((error as Error).message).toContain('its parent /proc exists');
  });

  it('names the file that stands where a directory should be', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'file'), 'x');
    const error = await openError(join(root, 'file', 'cache'));
    expect(error).toMatchObject({ code: 'ERR_IMGCACHE_CACHE_DIR', path: join(root, 'file'), errno: 'ENOTDIR' });
  });

  it('creates missing parents, and accepts a directory that already exists', async () => {
    const root = await tempDir();
    const dir = join(root, 'a', 'b', 'cache');
    const cache = await ImageCache.open({ dir, driver: createMemoryDriver(), logger: silentLogger });
    await cache.close();
    expect((await readdir(dir)).sort()).toEqual(['images', 'incomplete', 'invalid', 'queue']);
    const again = await ImageCache.open({ dir, driver: createMemoryDriver(), logger: silentLogger });
    await again.close();
  });

  it('refuses a malformed driver name before creating anything', async () => {
    const root = await tempDir();
    const dir = join(root, 'cache');
    await expect(ImageCache.open({ dir, driver: '../evil', logger: silentLogger })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    expect(existsSync(dir)).toBe(false);
  });
});
