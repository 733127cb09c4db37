import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageCache, ImgcacheError, silentLogger } from '@imgcache/core';
import { DriverHarness, entry } from '@imgcache/driver-test-suite';
import createMemoryJsonDriver, { MetadataFileError } from '../src/index.js';

describe('the metadata file', () => {
  let harness: DriverHarness;
  const metadataPath = () => join(harness.root, 'imgcache-metadata.json');

  beforeEach(async () => {
    harness = await DriverHarness.create(createMemoryJsonDriver, {});
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
    await writeFile(metadataPath(), JSON.stringify({ format: 1, entries: [{ ...entry('c', 3), hits: 4, lastAccessed: entry('c', 3).lastModified }] }));
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

  it('refuses a corrupt file loudly, without falling back and without touching it', async () => {
    await writeFile(metadataPath(), '{"format":1,"entries":[');
    await expect(harness.openDriver()).rejects.toBeInstanceOf(MetadataFileError);
    // Through core, fallback on: a broken store is not a configuration problem, so no fallback.
    const opening = ImageCache.open({ dir: harness.root, driver: createMemoryJsonDriver, logger: silentLogger });
    await expect(opening).rejects.toSatisfy((error) => error instanceof MetadataFileError && !ImgcacheError.is(error));
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

  it('rejects names outside the root or owned by core with DriverConfigError', async () => {
    for (const fileName of ['../x.json', 'a/b.json', 'images', '.hidden', '', 42]) {
      const context = { root: dir, imagesDir: join(dir, 'images'), imagePath: (id: string) => join(dir, 'images', id), nodeId: 'n', logger: silentLogger, options: { fileName } };
      await expect(createMemoryJsonDriver(context)).rejects.toSatisfy((error) => ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_CONFIG'));
    }
  });

  it('uses the given name', async () => {
    const cache = await ImageCache.open({ dir, driver: createMemoryJsonDriver, driverOptions: { fileName: 'meta.json' }, fallback: false, logger: silentLogger });
    await cache.cacheImageIter('named', [Buffer.from('x')]);
    await cache.close();
    expect(await readdir(dir)).toContain('meta.json');
  });
});
