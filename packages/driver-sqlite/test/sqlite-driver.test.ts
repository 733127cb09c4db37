import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DriverStoreError,
  ImageCache,
  ImgcacheError,
  InvalidOptionError,
  silentLogger,
  type DriverContext,
} from '@imgcache/core';
import { entry } from '@imgcache/driver-test-suite';
import { createSqliteDriver, type SqliteDriverOptions } from '../src/index.js';

let root: string;

function context(nodeId = 'node-a'): DriverContext {
  return {
    root,
    imagesDir: join(root, 'images'),
    imagePath: (imageId) => join(root, 'images', imageId),
    nodeId,
    logger: silentLogger,
  };
}

/** Opens the driver with these options on the test's root, as core would. */
function open(options: SqliteDriverOptions = {}, nodeId?: string) {
  return createSqliteDriver(options)(context(nodeId));
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-sqlite-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sqlite driver', () => {
  it('uses WAL, a busy timeout and an index for LRU order', async () => {
    const driver = await open({ busyTimeout: 1234 });
    await driver.close();
    const db = new Database(join(root, 'cache.sqlite'), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT image_id FROM entries WHERE node_id = 'x' ORDER BY last_accessed, image_id LIMIT 10",
        )
        .all() as { detail: string }[];
      expect(plan.map((row) => row.detail).join(' ')).toMatch(/entries_lru/);
      expect(plan.map((row) => row.detail).join(' ')).not.toMatch(/TEMP B-TREE/);
    } finally {
      db.close();
    }
  });

  it('refuses a busy timeout that would make the open retry without end', async () => {
    for (const busyTimeout of [Infinity, -1, 1.5, 2 ** 31, '100']) {
      expect(() => createSqliteDriver({ busyTimeout: busyTimeout as number })).toThrow(InvalidOptionError);
    }
    expect(() => createSqliteDriver({ busyTimeout: Infinity })).toThrow(
      /busyTimeout: Infinity must be a whole number of milliseconds/,
    );
  });

  it('keeps nodes apart in one database', async () => {
    const a = await open();
    const b = await open({}, 'node-b');
    await a.commit(entry('img', 1));
    expect(await b.get('img')).toBeNull();
    expect((await a.stats()).count).toBe(1);
    expect((await b.stats()).count).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a database written by a newer schema loudly, saying to upgrade, and leaves it alone', async () => {
    const db = new Database(join(root, 'cache.sqlite'));
    db.pragma('user_version = 99');
    db.close();
    const error = await open().catch((e: unknown) => e);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_STORE')).toBe(true);
    expect((error as Error).message).toMatch(
      /schema 99, newer than this driver understands \(1\)\. Upgrade @imgcache\/driver-sqlite/,
    );
    const after = new Database(join(root, 'cache.sqlite'), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(99);
    after.close();
  });

  it('refuses a corrupt database loudly with how to recover, never as a configuration problem', async () => {
    const garbage = 'this is not a database'.repeat(100);
    await writeFile(join(root, 'cache.sqlite'), garbage);
    const error = await open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverStoreError);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_CONFIG')).toBe(false);
    expect((error as Error).message).toMatch(
      /cache\.sqlite: the file is not a readable SQLite database \(SQLITE_NOTADB/,
    );
    expect((error as Error).message).toMatch(
      /move .*cache\.sqlite \(with any cache\.sqlite-wal and -shm files beside it\) out of the cache directory/,
    );
    expect(await readFile(join(root, 'cache.sqlite'), 'utf8')).toBe(garbage);
  });

  it('through core, a corrupt database fails the open instead of falling back to a fresh one', async () => {
    await writeFile(join(root, 'cache.sqlite'), 'x'.repeat(4096));
    for (const driver of ['sqlite', 'xattr-that-is-not-installed']) {
      const error = await ImageCache.open({ dir: root, driver, logger: silentLogger }).catch((e: unknown) => e);
      expect(ImgcacheError.is(error, 'ERR_IMGCACHE_DRIVER_STORE')).toBe(true);
    }
    expect(await readFile(join(root, 'cache.sqlite'), 'utf8')).toBe('x'.repeat(4096));
    expect(await readdir(root)).not.toContain('cache.sqlite-wal');
  });

  it('refuses a database file it cannot open loudly, naming the file', async () => {
    // A directory in the database's place cannot be opened even by root.
    await mkdir(join(root, 'cache.sqlite'));
    const error = await open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverStoreError);
    expect((error as Error).message).toMatch(
      /cache\.sqlite: the file cannot be opened for reading and writing \(SQLITE_CANTOPEN/,
    );
  });

  it('refuses a filename outside the cache root or in a directory core owns, before touching anything', () => {
    for (const filename of ['', '../up.sqlite', '/etc/x.sqlite', 'images/db.sqlite', 'queue', 'a/../../b']) {
      expect(() => createSqliteDriver({ filename })).toThrow(InvalidOptionError);
    }
  });

  it('several processes committing and counting hits at once never see SQLITE_BUSY', async () => {
    const script = fileURLToPath(new URL('./fixtures/hammer.mjs', import.meta.url));
    const setup = await open();
    await setup.commit({ imageId: 'shared', size: 1, checksum: 'sha256:00', lastModified: 1 });
    await setup.close();
    const workers = Array.from(
      { length: 3 },
      (_, n) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [script, root, `w${n}`, '300'], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          child.stderr.on('data', (data) => (err += data));
          child.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`worker ${n} exited ${code}: ${err}`)),
          );
        }),
    );
    await Promise.all(workers);
    const driver = await open();
    const stats = await driver.stats();
    // Each worker commits its own 300 entries and records a hit on every entry of "shared".
    expect(stats.count).toBe(3 * 300 + 1);
    expect((await driver.get('shared'))?.hits).toBe(3 * 300);
    expect(stats.totalHits).toBe(3 * 300);
    await driver.close();
  });

  it('processes opening the database while others create it and write to it all succeed', async () => {
    const run = (script: string, args: string[]) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url)), root, ...args],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let err = '';
        child.stderr.on('data', (data) => (err += data));
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}: ${err}`))));
      });
    const openers = Array.from({ length: 12 }, (_, n) =>
      new Promise<void>((resolve) => setTimeout(resolve, n * 15)).then(() => run('open-close.mjs', [])),
    );
    await Promise.all([run('hammer.mjs', ['writer', '400']), ...openers]);
    const driver = await open();
    expect((await driver.stats()).count).toBe(12 + 400);
    await driver.close();
  });

  it('batches concurrent hits yet tells each caller whether its hit landed', async () => {
    const driver = await open();
    await driver.commit(entry('a', 1));
    await driver.commit(entry('b', 2));
    const results = await Promise.all([
      driver.recordHit('a', 10),
      driver.recordHit('missing', 11),
      driver.recordHit('b', 12),
      driver.recordHit('a', 13),
    ]);
    expect(results).toEqual([true, false, true, true]);
    expect((await driver.get('a'))?.hits).toBe(2);
    // Hits still queued when the driver closes are written first.
    const pending = driver.recordHit('b', 20);
    await driver.close();
    expect(await pending).toBe(true);
    const reopened = await open();
    expect((await reopened.get('b'))?.hits).toBe(2);
    await reopened.close();
  });

  it('opens through core by name', async () => {
    const cache = await ImageCache.open({ dir: root, driver: 'sqlite', fallback: false, logger: silentLogger });
    expect(cache.driverName).toBe('sqlite');
    await cache.close();
  });
});
