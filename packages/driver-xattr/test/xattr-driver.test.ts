import { createHash } from 'node:crypto';
import { link, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute, listAttributes, setAttribute } from 'fs-xattr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageCache, ImgcacheError, silentLogger, type CacheLayout, type NewCacheEntry } from '@imgcache/core';
import { collect, deadPid } from '@imgcache/driver-test-suite';
import {
  ACCESS_ATTRIBUTE,
  DEFAULT_INDEX_DIR,
  ENTRY_ATTRIBUTE,
  createXattrDriver,
  type XattrDriver,
} from '../src/index.js';
import { scratchRoot, sleep, openXattr } from './helpers.js';

const BASE = Date.UTC(2026, 3, 1);

function item(imageId: string, n: number, overrides: Partial<NewCacheEntry> = {}): NewCacheEntry {
  return {
    imageId,
    size: 100 + n,
    checksum: `sha256:${n.toString(16).padStart(64, '0')}`,
    lastModified: BASE + n,
    ...overrides,
  };
}

/** Polls until `check` holds; bounded so a broken hit path fails the test instead of hanging. */
async function eventually(check: () => Promise<boolean>, attempts = 200): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error('condition not met within 2 s');
}

describe('xattr driver', () => {
  let layout: CacheLayout;
  let dispose: () => Promise<void>;
  let driver: XattrDriver;
  const indexPath = (imageId: string) => join(layout.root, DEFAULT_INDEX_DIR, imageId);

  async function commitFile(entry: NewCacheEntry): Promise<void> {
    await writeFile(layout.imagePath(entry.imageId), Buffer.alloc(entry.size, 1));
    await driver.commit(entry);
  }

  beforeEach(async () => {
    ({ layout, dispose } = await scratchRoot());
    driver = await openXattr(layout);
  });

  afterEach(async () => {
    await driver.close();
    await dispose();
  });

  it('keeps the metadata of an image committed through ImageCache in user.imgcache.* attributes of its file', async () => {
    const cache = await ImageCache.open({
      dir: layout.root,
      driver: createXattrDriver(),
      fallback: false,
      logger: silentLogger,
    });
    try {
      expect(cache.driverName).toBe('xattr');
      const bytes = Buffer.alloc(4096, 3);
      expect(await cache.cacheImageIter('img-1', [bytes])).toBe(true);
      const file = layout.imagePath('img-1');
      expect(await listAttributes(file)).toEqual(expect.arrayContaining([ENTRY_ATTRIBUTE, ACCESS_ATTRIBUTE]));
      const entryRaw = await getAttribute(file, ENTRY_ATTRIBUTE);
      const entry = JSON.parse(entryRaw.toString('utf8'));
      expect(entry).toEqual({
        v: 1,
        size: 4096,
        checksum: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
        lastModified: expect.any(Number),
      });
      expect(entryRaw.length).toBeLessThan(1024);
      expect(JSON.parse((await getAttribute(file, ACCESS_ATTRIBUTE)).toString('utf8'))).toEqual({
        of: entry.lastModified,
        hits: 0,
        lastAccessed: entry.lastModified,
      });
      // The index link is the same inode, so it carries the same attributes.
      expect((await stat(indexPath('img-1'))).ino).toBe((await stat(file)).ino);

      const reader = await cache.openForRead('img-1');
      for await (const chunk of reader) expect(chunk).toBeInstanceOf(Buffer);
      await eventually(async () => (await cache.getHitCount('img-1')) === 1);
      const access = JSON.parse((await getAttribute(file, ACCESS_ATTRIBUTE)).toString('utf8'));
      expect(access.hits).toBe(1);
      expect(access.lastAccessed).toBeGreaterThan(entry.lastModified);
    } finally {
      await cache.close();
    }
  });

  it('orders LRU by accesses a few milliseconds apart, whatever the atime says', async () => {
    for (const [n, id] of ['a', 'b', 'c'].entries()) await commitFile(item(id, n));
    await driver.recordHit('c', Date.now());
    await sleep(3);
    await driver.recordHit('a', Date.now());
    await sleep(3);
    await driver.recordHit('b', Date.now());
    // atimes that claim the opposite order: the driver must not look at them.
    const now = Date.now() / 1000;
    await utimes(layout.imagePath('b'), now - 300, now - 300);
    await utimes(layout.imagePath('c'), now + 300, now + 300);
    const order = await collect(driver.leastRecentlyUsed());
    expect(order.map((entry) => entry.imageId)).toEqual(['c', 'a', 'b']);
    expect(order[0]!.lastAccessed).toBeLessThan(order[1]!.lastAccessed);
    expect(order[1]!.lastAccessed).toBeLessThan(order[2]!.lastAccessed);
  });

  it('lets core prune the least recently read image', async () => {
    await driver.close();
    const cache = await ImageCache.open({
      dir: layout.root,
      driver: createXattrDriver(),
      fallback: false,
      logger: silentLogger,
    });
    try {
      for (const id of ['x', 'y', 'z']) await cache.cacheImageIter(id, [Buffer.alloc(1000, id.charCodeAt(0))]);
      for (const id of ['z', 'x', 'y']) {
        for await (const chunk of await cache.openForRead(id)) expect(chunk.length).toBe(1000);
        await eventually(async () => (await cache.getHitCount(id)) === 1);
        await sleep(3);
      }
      expect(await cache.prune(2000)).toEqual({ files: 1, bytes: 1000 });
      expect((await cache.getCachedImages()).map((image) => image.imageId)).toEqual(['x', 'y']);
      expect(await cache.getCacheSize()).toBe(2000);
    } finally {
      await cache.close();
    }
    driver = await openXattr(layout);
  });

  it('counts every one of 200 concurrent hits on one image', async () => {
    await commitFile(item('hot', 1));
    const results = await Promise.all(Array.from({ length: 200 }, (_, k) => driver.recordHit('hot', BASE + 1000 + k)));
    expect(results.every(Boolean)).toBe(true);
    expect(await driver.get('hot')).toMatchObject({ hits: 200, lastAccessed: BASE + 1199 });
    expect((await driver.stats()).totalHits).toBe(200);
  });

  it('finishes hits still queued when it closes, so a reopen sees them', async () => {
    await commitFile(item('a', 1));
    const pending = Array.from({ length: 20 }, (_, k) => driver.recordHit('a', BASE + 100 + k));
    await driver.close();
    driver = await openXattr(layout);
    expect(await driver.get('a')).toMatchObject({ hits: 20, lastAccessed: BASE + 119 });
    expect(await Promise.all(pending)).toEqual(Array(20).fill(true));
  });

  it('lets core adopt a file that a crash left with attributes but no index link', async () => {
    // A commit interrupted after writing the attributes, before linking the entry.
    await writeFile(layout.imagePath('crashed'), Buffer.alloc(700, 5));
    await setAttribute(
      layout.imagePath('crashed'),
      ENTRY_ATTRIBUTE,
      JSON.stringify({ v: 1, size: 1, checksum: 'sha256:00', lastModified: 1 }),
    );
    expect(await driver.get('crashed')).toBeNull();
    const cache = await ImageCache.open({
      dir: layout.root,
      driver: createXattrDriver(),
      fallback: false,
      logger: silentLogger,
    });
    try {
      expect(cache.reconcileReport.adoptedFiles).toBe(1);
      const [image] = await cache.getCachedImages();
      expect(image).toMatchObject({ imageId: 'crashed', size: 700, hits: 0 });
      expect(image!.checksum).toBe(`sha256:${createHash('sha256').update(Buffer.alloc(700, 5)).digest('hex')}`);
      expect(await cache.verify()).toEqual({ checked: 1, failed: [] });
    } finally {
      await cache.close();
    }
  });

  it('does not list non-image files or files without its attributes', async () => {
    await commitFile(item('real', 1));
    // A file in images/ that was never committed (core's reconcile adopts these).
    await writeFile(layout.imagePath('orphan'), 'x');
    // Names that are not image ids, a plain file and a link with only a foreign attribute.
    const indexDir = join(layout.root, DEFAULT_INDEX_DIR);
    await writeFile(join(indexDir, 'not an id'), 'x');
    await writeFile(join(indexDir, 'stray'), 'x');
    await writeFile(layout.imagePath('foreign'), 'x');
    await setAttribute(layout.imagePath('foreign'), 'user.other', '{"v":1,"size":1}');
    await link(layout.imagePath('foreign'), join(indexDir, 'foreign'));
    await writeFile(join(indexDir, 'garbled'), 'x');
    await setAttribute(join(indexDir, 'garbled'), ENTRY_ATTRIBUTE, 'not json');

    expect((await driver.list()).map((entry) => entry.imageId)).toEqual(['real']);
    expect(await driver.stats()).toEqual({ count: 1, totalSize: 101, totalHits: 0 });
    expect((await collect(driver.leastRecentlyUsed())).map((entry) => entry.imageId)).toEqual(['real']);
    for (const id of ['orphan', 'stray', 'foreign', 'garbled']) {
      expect(await driver.get(id)).toBeNull();
      expect(await driver.recordHit(id, Date.now())).toBe(false);
    }
    expect(await driver.get('../images/real')).toBeNull();
  });

  it('removes an entry whose file still exists by stripping the attributes, and tolerates missing files', async () => {
    await commitFile(item('a', 1));
    await commitFile(item('b', 2));
    expect(await driver.remove(['a'])).toBe(1);
    expect(await stat(layout.imagePath('a'))).toBeTruthy();
    expect((await listAttributes(layout.imagePath('a'))).filter((name) => name.startsWith('user.imgcache.'))).toEqual(
      [],
    );
    expect(await driver.get('a')).toBeNull();
    expect(await driver.remove(['a', 'never-cached', 'a'])).toBe(0);
    // Core unlinks the image before removing its entry: the entry still counts as removed.
    await unlink(layout.imagePath('b'));
    expect(await driver.remove(['b'])).toBe(1);
    expect(await readdir(join(layout.root, DEFAULT_INDEX_DIR))).toEqual([]);
  });

  it('removeAll counts the entries and leaves the image files to core', async () => {
    for (const [n, id] of ['a', 'b', 'c'].entries()) await commitFile(item(id, n));
    expect(await driver.removeAll()).toBe(3);
    expect(await driver.list()).toEqual([]);
    expect((await readdir(layout.imagesDir)).sort()).toEqual(['a', 'b', 'c']);
    expect(await driver.removeAll()).toBe(0);
  });

  it('moves an entry to a new file on recommit and ignores access records of an older commit', async () => {
    await commitFile(item('a', 1));
    await driver.recordHit('a', BASE + 500);
    // Core renames a freshly written file over the old one, then commits again.
    const replacement = join(layout.incompleteDir, 'a~1-x');
    await writeFile(replacement, Buffer.alloc(300, 2));
    await rename(replacement, layout.imagePath('a'));
    await driver.commit(item('a', 200));
    expect(await driver.get('a')).toEqual({ ...item('a', 200), hits: 0, lastAccessed: BASE + 200 });
    expect((await stat(indexPath('a'))).ino).toBe((await stat(layout.imagePath('a'))).ino);
    // A hit from another process that read the old commit and wrote after the new one.
    await setAttribute(
      indexPath('a'),
      ACCESS_ATTRIBUTE,
      JSON.stringify({ of: BASE + 1, hits: 9, lastAccessed: BASE + 900 }),
    );
    expect(await driver.get('a')).toMatchObject({ hits: 0, lastAccessed: BASE + 200 });
    expect(await readdir(join(layout.root, DEFAULT_INDEX_DIR))).toEqual(['a']);
  });

  it('refuses metadata that would not fit comfortably in one attribute, and records nothing', async () => {
    await writeFile(layout.imagePath('big'), 'x');
    await expect(driver.commit(item('big', 1, { checksum: `sha256:${'f'.repeat(2000)}` }))).rejects.toThrow(
      /over the 1024-byte limit/,
    );
    expect(await driver.get('big')).toBeNull();
    expect((await driver.stats()).count).toBe(0);
  });

  it('leaves no probe file behind and sweeps what a crashed process left', async () => {
    expect((await readdir(layout.root)).filter((name) => name.includes('probe'))).toEqual([]);
    const indexDir = join(layout.root, DEFAULT_INDEX_DIR);
    const dead = deadPid();
    await writeFile(join(indexDir, `a~${dead}-abc123`), 'x');
    await writeFile(join(layout.root, `.imgcache-xattr-probe-${dead}-ab12`), '');
    await writeFile(join(indexDir, `b~${process.ppid}-abc123`), 'x');
    const reopened = await openXattr(layout);
    await reopened.close();
    expect(await readdir(indexDir)).toEqual([`b~${process.ppid}-abc123`]);
    expect((await readdir(layout.root)).filter((name) => name.includes('probe'))).toEqual([]);
  });

  it('rejects an index directory option that is not a directory name of its own', async () => {
    for (const indexDir of ['images', 'queue', '../elsewhere', '', 42]) {
      const error = await openXattr(layout, { indexDir }).catch((caught: unknown) => caught);
      expect(ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_OPTION')).toBe(true);
    }
    const custom = await openXattr(layout, { indexDir: 'my-index' });
    await writeFile(layout.imagePath('c'), 'x');
    await custom.commit(item('c', 1));
    expect(await readdir(join(layout.root, 'my-index'))).toEqual(['c']);
    await custom.close();
  });
});
