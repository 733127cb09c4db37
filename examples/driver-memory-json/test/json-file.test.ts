import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverStoreError, ImageCache, ImgcacheError, silentLogger } from '@imgcache/core';
import { DriverHarness, entry } from '@imgcache/driver-test-suite';
import { createMemoryJsonDriver } from '../src/index.js';

describe('the metadata file', () => {
  let harness: DriverHarness;
  const metadataPath = () => join(harness.root, 'imgcache-metadata.json');

  beforeEach(async () => {
    harness = await DriverHarness.create(createMemoryJsonDriver());
  });

  afterEach(async () => {
    await harness.dispose();
  });

  it('is reloaded on open after every instance closed, and leaves no temporary files', async () => {
    const driver = await harness.openDriver();
    await Promise.all([driver.commit(entry('a', 1)), driver.commit(entry('b', 2))]);
    await driver.recordHit('a', entry('a', 1).lastModified + 9);
    await harness.closeDriver(driver);
    // A fresh load proves the file itself holds the state, not a copy kept in memory.
    await writeFile(
      metadataPath(),
      JSON.stringify({ format: 1, entries: [{ ...entry('c', 3), hits: 4, lastAccessed: entry('c', 3).lastModified }] }),
    );
    const reopened = await harness.openDriver();
    expect((await reopened.list()).map((item) => [item.imageId, item.hits])).toEqual([['c', 4]]);
    expect((await readdir(harness.root)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('saves a burst of concurrent changes completely', async () => {
    const driver = await harness.openDriver();
    const ids = Array.from({ length: 200 }, (_, n) => `burst-${n}`);
    await Promise.all(ids.map((id, n) => driver.commit(entry(id, n))));
    await harness.closeDriver(driver);
    const reopened = await harness.openDriver();
    expect((await reopened.stats()).count).toBe(ids.length);
  });

  it('refuses a corrupt file loudly, saying how to recover, without falling back and without touching it', async () => {
    const corrupt = '{"format":1,"entries":[';
    await writeFile(metadataPath(), corrupt);
    const error = await harness.openDriver().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverStoreError);
    expect((error as Error).message).toMatch(/invalid JSON\. Move the file out of the cache directory/);
    // Through core, fallback on: a damaged store is not a configuration problem, so no fallback.
    const opening = ImageCache.open({ dir: harness.root, driver: createMemoryJsonDriver(), logger: silentLogger });
    await expect(opening).rejects.toSatisfy((e) => ImgcacheError.is(e, 'ERR_IMGCACHE_DRIVER_STORE'));
    expect(await readFile(metadataPath(), 'utf8')).toBe(corrupt);
    expect(await readdir(harness.root)).not.toContain('cache.sqlite');
  });

  it('refuses a file of another format', async () => {
    await writeFile(metadataPath(), JSON.stringify({ format: 2, entries: [] }));
    await expect(harness.openDriver()).rejects.toThrow(/expected format 1/);
  });
});

describe('the fileName option', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgcache-memory-json-option-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects names outside the root or owned by core with InvalidOptionError, before touching anything', async () => {
    for (const fileName of ['../x.json', 'a/b.json', 'images', '.hidden', '', 42]) {
      expect(() => createMemoryJsonDriver({ fileName: fileName as string })).toThrow(
        expect.objectContaining({
          code: 'ERR_IMGCACHE_INVALID_OPTION',
          message: expect.stringMatching(/driverOptions\.fileName/),
        }),
      );
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('uses the given name', async () => {
    const cache = await ImageCache.open({
      dir,
      driver: createMemoryJsonDriver({ fileName: 'meta.json' }),
      fallback: false,
      logger: silentLogger,
    });
    await cache.cacheImageIter('named', [Buffer.from('x')]);
    await cache.close();
    expect(await readdir(dir)).toContain('meta.json');
  });
});
