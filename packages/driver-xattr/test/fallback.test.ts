import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheLayout, DriverConfigError, ImageCache, ImgcacheError } from '@imgcache/core';
import { createXattrDriver } from '../src/index.js';
import { capturingLogger, openXattr } from './helpers.js';

/** Mounts a real ramfs (no extended attributes at all); null plus the reason when this host does not allow it. */
async function mountRamfs(): Promise<{ dir: string; unmount: () => Promise<void> } | { skipReason: string }> {
  if (process.platform !== 'linux') return { skipReason: 'ramfs exists on Linux only' };
  if (process.getuid?.() !== 0) return { skipReason: 'mounting ramfs needs root (CI runs .ci/run as root)' };
  const dir = await mkdtemp(join(tmpdir(), 'imgcache-ramfs-'));
  try {
    execFileSync('mount', ['-t', 'ramfs', 'ramfs', dir], { stdio: 'pipe' });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    return { skipReason: `mount -t ramfs is not permitted here: ${detail}` };
  }
  return {
    dir,
    unmount: async () => {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const ramfs = await mountRamfs();
const mounted = 'dir' in ramfs ? ramfs : null;
if (!mounted) console.warn(`skipping the ramfs fallback tests: ${'skipReason' in ramfs ? ramfs.skipReason : ''}`);

afterAll(async () => {
  await mounted?.unmount();
});

let counter = 0;
async function freshRoot(): Promise<CacheLayout> {
  const layout = new CacheLayout(join(mounted!.dir, `cache-${counter++}`));
  for (const directory of layout.directories) await mkdir(directory, { recursive: true });
  return layout;
}

const probeFiles = async (root: string) => (await readdir(root)).filter((name) => name.includes('probe'));

describe('on a filesystem without user xattrs (ramfs)', () => {
  // Skipped only where ramfs cannot be mounted (not root, or no mount permission); the reason is printed above.
  it.skipIf(!mounted)('the driver refuses to open with DriverConfigError naming the filesystem problem', async () => {
    const layout = await freshRoot();
    const error = await openXattr(layout).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DriverConfigError);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_CONFIG')).toBe(true);
    expect((error as Error).message).toMatch(/does not support user extended attributes.*ENOTSUP/);
    expect((error as Error).message).toContain(layout.root);
    expect(await probeFiles(layout.root)).toEqual([]);
  });

  // Skipped only where ramfs cannot be mounted; see above.
  it.skipIf(!mounted)('core falls back to sqlite with a warning that names the cause', async () => {
    const layout = await freshRoot();
    for (const driver of [createXattrDriver(), 'xattr'] as const) {
      const logger = capturingLogger();
      const cache = await ImageCache.open({ dir: layout.root, driver, logger });
      try {
        expect(cache.driverName).toBe('sqlite');
        expect(logger.warnings).toEqual([
          expect.stringMatching(/falling back to sqlite.*does not support user extended attributes/),
        ]);
        expect(await cache.cacheImageIter(`works-${String(driver === 'xattr')}`, [Buffer.alloc(64, 1)])).toBe(true);
      } finally {
        await cache.close();
      }
    }
    expect(await probeFiles(layout.root)).toEqual([]);
  });

  // Skipped only where ramfs cannot be mounted; see above.
  it.skipIf(!mounted)('fallback: false turns the unsupported filesystem into an error', async () => {
    const layout = await freshRoot();
    const logger = capturingLogger();
    const error = await ImageCache.open({
      dir: layout.root,
      driver: createXattrDriver(),
      fallback: false,
      logger,
    }).catch((caught: unknown) => caught);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_CONFIG')).toBe(true);
    expect(logger.warnings).toEqual([]);
  });
});

const canChattr = process.platform === 'linux' && process.getuid?.() === 0 && hasChattr();
if (!canChattr)
  console.warn('skipping the loud-probe-error test: it needs root and chattr to make a directory immutable');

function hasChattr(): boolean {
  try {
    execFileSync('chattr', ['--help'], { stdio: 'pipe' });
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== 'ENOENT';
  }
}

describe('a probe failure that is not a missing feature', () => {
  // Skipped where chattr +i is unavailable (not root, no chattr); the reason is printed above.
  it.skipIf(!canChattr)('propagates as it is, and core does not fall back', async () => {
    const root = await mkdtemp(join(tmpdir(), 'imgcache-immutable-'));
    const layout = new CacheLayout(root);
    for (const directory of layout.directories) await mkdir(directory, { recursive: true });
    await mkdir(join(root, 'xattr-entries'));
    // An immutable root refuses the probe file with EPERM, even to root.
    execFileSync('chattr', ['+i', root]);
    try {
      const error = await openXattr(layout).catch((caught: unknown) => caught);
      expect((error as { code?: string }).code).toBe('EPERM');
      expect(ImgcacheError.is(error)).toBe(false);
      const logger = capturingLogger();
      const opened = await ImageCache.open({ dir: root, driver: createXattrDriver(), logger }).catch(
        (caught: unknown) => caught,
      );
      // Core's own check of the directory meets the same EPERM first and names it: still no fallback.
      expect(opened).toMatchObject({ code: 'ERR_IMGCACHE_CACHE_DIR', errno: 'EPERM' });
      expect(logger.warnings).toEqual([]);
    } finally {
      execFileSync('chattr', ['-i', root]);
      await rm(root, { recursive: true, force: true });
    }
  });
});
