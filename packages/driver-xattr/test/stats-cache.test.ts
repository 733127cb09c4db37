import { link, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImgcacheError, type CacheEntry, type CacheLayout, type DriverStats, type NewCacheEntry } from '@imgcache/core';
import { readAccess, readEntry, writeAccess, writeEntry } from '../src/attributes.js';
import { DEFAULT_INDEX_DIR, type XattrDriver } from '../src/index.js';
import { scratchRoot, sleep, openXattr } from './helpers.js';

const BASE = Date.UTC(2026, 4, 1);
const LONG_AGE = { statsMaxAge: 600_000 };

function item(imageId: string, n: number): NewCacheEntry {
  return { imageId, size: 1000 + n, checksum: `sha256:${n.toString(16).padStart(64, '0')}`, lastModified: BASE + n };
}

/** Totals counted from a listing: an independent full scan to compare the cached totals with. */
function totalsOf(entries: CacheEntry[]): DriverStats {
  return {
    count: entries.length,
    totalSize: entries.reduce((sum, entry) => sum + entry.size, 0),
    totalHits: entries.reduce((sum, entry) => sum + entry.hits, 0),
  };
}

describe('xattr driver stats() totals kept in memory', () => {
  let layout: CacheLayout;
  let dispose: () => Promise<void>;
  const opened: XattrDriver[] = [];
  const indexDir = () => join(layout.root, DEFAULT_INDEX_DIR);

  async function open(options: Record<string, unknown> = LONG_AGE): Promise<XattrDriver> {
    const driver = await openXattr(layout, options);
    opened.push(driver);
    return driver;
  }

  async function commitFile(driver: XattrDriver, entry: NewCacheEntry): Promise<void> {
    await writeFile(layout.imagePath(entry.imageId), Buffer.alloc(4, 1));
    await driver.commit(entry);
  }

  /** What another process's commit does on disk: attributes on a new file, then a link renamed into the index. */
  async function foreignCommit(entry: NewCacheEntry): Promise<void> {
    const file = layout.imagePath(entry.imageId);
    await writeFile(file, Buffer.alloc(4, 2));
    const stored = { size: entry.size, checksum: entry.checksum, lastModified: entry.lastModified };
    await writeEntry(file, stored);
    await writeAccess(file, stored, { hits: 0, lastAccessed: entry.lastModified });
    const temporary = join(indexDir(), `${entry.imageId}~foreign`);
    await link(file, temporary);
    await rename(temporary, join(indexDir(), entry.imageId));
  }

  /** What another process's hit does: rewrites one attribute, leaving the directory alone. */
  async function foreignHit(imageId: string): Promise<void> {
    const path = join(indexDir(), imageId);
    const stored = (await readEntry(path))!;
    const access = await readAccess(path, stored);
    await writeAccess(path, stored, { hits: access.hits + 1, lastAccessed: access.lastAccessed + 1 });
  }

  beforeEach(async () => {
    ({ layout, dispose } = await scratchRoot('imgcache-xattr-stats-'));
  });

  afterEach(async () => {
    for (const driver of opened.splice(0)) await driver.close();
    await dispose();
  });

  it('stays exact across many commits, recommits, hits and removals of its own without rescanning', async () => {
    const driver = await open();
    for (let n = 0; n < 40; n++) await commitFile(driver, item(`e${n}`, n));
    expect(await driver.stats()).toEqual(totalsOf(await driver.list()));
    const scansAfterFirst = driver.statsScans;

    const steps: (() => Promise<unknown>)[] = [];
    for (let n = 0; n < 40; n++) {
      steps.push(() => driver.recordHit(`e${n}`, BASE + 10_000 + n));
      if (n % 3 === 0) steps.push(() => commitFile(driver, item(`e${n}`, 500 + n))); // recommit drops size and hits of the old entry
      if (n % 4 === 1) steps.push(() => driver.remove([`e${n}`, `e${n}`, 'never-committed']));
      if (n % 5 === 2) steps.push(() => driver.remove([`e${n - 1}`])); // removed already when n - 1 ≡ 1 (mod 4), or not
      if (n % 6 === 0) steps.push(() => commitFile(driver, item(`new${n}`, 900 + n)));
      steps.push(() => driver.recordHit(`gone${n}`, BASE)); // no entry: the hit is dropped
    }
    for (const step of steps) {
      await step();
      expect(await driver.stats()).toEqual(totalsOf(await driver.list()));
    }
    expect(await driver.removeAll()).toBeGreaterThan(0);
    expect(await driver.stats()).toEqual({ count: 0, totalSize: 0, totalHits: 0 });
    expect(driver.statsScans).toBe(scansAfterFirst);
  });

  it('shares exact totals between two instances of one process on one root', async () => {
    const first = await open();
    const second = await open();
    await commitFile(first, item('a', 1));
    expect(await first.stats()).toEqual({ count: 1, totalSize: 1001, totalHits: 0 });
    const scans = first.statsScans;
    await commitFile(second, item('b', 2));
    await second.recordHit('a', BASE + 50);
    expect(await first.stats()).toEqual({ count: 2, totalSize: 2003, totalHits: 1 });
    expect(await second.remove(['a'])).toBe(1);
    expect(await first.stats()).toEqual({ count: 1, totalSize: 1002, totalHits: 0 });
    expect(first.statsScans).toBe(scans);
  });

  it('rescans when another process changed the index directory', async () => {
    const driver = await open();
    await commitFile(driver, item('own', 1));
    expect(await driver.stats()).toEqual({ count: 1, totalSize: 1001, totalHits: 0 });
    const scans = driver.statsScans;
    const stampBefore = await stat(indexDir(), { bigint: true });
    await foreignCommit(item('foreign', 2));
    const stampAfter = await stat(indexDir(), { bigint: true });
    const stampChanged = stampBefore.mtimeNs !== stampAfter.mtimeNs || stampBefore.ctimeNs !== stampAfter.ctimeNs;
    // Filesystems with coarse directory timestamps may not show a change made within the same
    // clock tick; then only statsMaxAge (covered by the next test) brings it in.
    expect(await driver.stats()).toEqual(
      stampChanged ? { count: 2, totalSize: 2003, totalHits: 0 } : { count: 1, totalSize: 1001, totalHits: 0 },
    );
    expect(driver.statsScans).toBe(stampChanged ? scans + 1 : scans);
    // Its own later changes stay exact on top of what the rescan found.
    await commitFile(driver, item('later', 3));
    expect(await driver.stats()).toEqual(totalsOf(await driver.list()));
  });

  it('picks up changes the directory does not show (hits of another process) once statsMaxAge has passed', async () => {
    const patient = await open(LONG_AGE);
    await commitFile(patient, item('a', 1));
    expect(await patient.stats()).toEqual({ count: 1, totalSize: 1001, totalHits: 0 });
    await foreignHit('a');
    await foreignHit('a');
    // The directory did not change and the totals are far younger than ten minutes.
    expect(await patient.stats()).toEqual({ count: 1, totalSize: 1001, totalHits: 0 });

    const eager = await open({ statsMaxAge: 20 });
    let seen: DriverStats | undefined;
    for (let attempt = 0; attempt < 200 && seen?.totalHits !== 2; attempt++) {
      await sleep(10);
      seen = await eager.stats();
    }
    expect(seen).toEqual({ count: 1, totalSize: 1001, totalHits: 2 });
  });

  it('serves 10 000 stats() calls from one scan', async () => {
    const driver = await open();
    for (let n = 0; n < 20; n++) await commitFile(driver, item(`e${n}`, n));
    const scansBefore = driver.statsScans;
    const expected = totalsOf(await driver.list());
    for (let call = 0; call < 10_000; call++) expect(await driver.stats()).toEqual(expected);
    expect(driver.statsScans - scansBefore).toBe(1);
  });

  it('counts every change exactly once when scans run while commits, hits and removals are in flight', async () => {
    const steady = await open();
    const rescanning = await open({ statsMaxAge: 0 }); // shares steady's totals and rescans on every call
    const ids = Array.from({ length: 400 }, (_, n) => `c${n}`);
    for (const [n, id] of ids.entries()) await commitFile(steady, item(id, n));
    expect(await steady.stats()).toEqual(totalsOf(await steady.list()));

    let writing = true;
    const scanner = (async () => {
      let scans = 0;
      while (writing && scans < 500) {
        await rescanning.stats();
        scans++;
      }
      return scans;
    })();
    await Promise.all(
      ids.map(async (id, n) => {
        await steady.recordHit(id, BASE + 5000 + n);
        if (n % 4 === 0) await commitFile(steady, item(id, 300 + n));
        if (n % 4 === 1) await steady.remove([id]);
        if (n % 4 === 2) await commitFile(steady, item(`added${n}`, 1000 + n));
        await rescanning.recordHit(id, BASE + 9000 + n);
      }),
    );
    writing = false;
    expect(await scanner).toBeGreaterThan(0);
    const truth = totalsOf(await steady.list());
    expect(await steady.stats()).toEqual(truth);
    // Two hits each, except: a recommit drops the hit before it, a removal drops both.
    expect(truth.totalHits).toBe(ids.length * 2 - ids.length / 4 - (ids.length / 4) * 2);
  });

  it('rejects a statsMaxAge that is not a number of milliseconds', async () => {
    for (const statsMaxAge of [-1, Number.NaN, '1000']) {
      const failure = await openXattr(layout, { statsMaxAge }).catch((error: unknown) => error);
      expect(ImgcacheError.is(failure)).toBe(true);
      expect(String((failure as Error).message)).toMatch(/statsMaxAge/);
    }
  });
});
