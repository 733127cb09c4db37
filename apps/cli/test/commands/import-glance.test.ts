import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getAttribute, listAttributes, setAttribute } from 'fs-xattr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/run-cli.js';
import { mountScratch } from '../helpers/special-files.js';

/** Glance's schema, from its sqlite driver. */
const GLANCE_SCHEMA = `CREATE TABLE IF NOT EXISTS cached_images (
    image_id TEXT PRIMARY KEY,
    last_accessed REAL DEFAULT 0.0,
    last_modified REAL DEFAULT 0.0,
    size INTEGER DEFAULT 0,
    hits INTEGER DEFAULT 0,
    checksum TEXT
);`;

const id = (n: number) => `aaaaaaaa-0000-0000-0000-00000000000${n}`;

interface GlanceFixture {
  dir: string;
  bytes: Map<string, Buffer>;
}

/** Lays out a directory the way Glance's sqlite driver leaves it. */
async function layOutGlanceCache(
  root: string,
  rows: { imageId: string; size: number; hits: number; checksum?: string | null; file?: Buffer }[],
  extraFiles: Record<string, Buffer> = {},
): Promise<GlanceFixture> {
  const dir = join(root, 'glance-image-cache');
  for (const sub of ['', 'incomplete', 'invalid', 'queue']) await mkdir(join(dir, sub), { recursive: true });
  const bytes = new Map<string, Buffer>();
  const db = new Database(join(dir, 'cache.db'));
  db.exec(GLANCE_SCHEMA);
  const insert = db.prepare(
    'INSERT INTO cached_images (image_id, last_accessed, last_modified, hits, size, checksum) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const now = Date.now() / 1000;
  for (const row of rows) {
    insert.run(row.imageId, now - 60, now - 3600, row.hits, row.size, row.checksum ?? null);
    if (row.file) {
      await writeFile(join(dir, row.imageId), row.file);
      bytes.set(row.imageId, row.file);
    }
  }
  db.close();
  for (const [name, content] of Object.entries(extraFiles)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'image_cache_db_init'), '');
  await writeFile(join(dir, 'incomplete', id(9)), 'half a download');
  await writeFile(join(dir, 'invalid', id(9)), 'a failed download');
  return { dir, bytes };
}

/**
 * Every file under `dir` with its size, mtime, content hash and extended attributes (and,
 * with `atime`, its access time: Glance's xattr driver evicts by it).
 */
async function snapshot(dir: string, { atime = false } = {}): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    if (!entry.isFile()) {
      result[path] = `dir ${info.mtimeMs}`;
      continue;
    }
    const attributes = [];
    for (const name of (await listAttributes(path)).sort())
      attributes.push(`${name}=${(await getAttribute(path, name)).toString('hex')}`);
    const hash = createHash('sha256')
      .update(await readUnaccessed(path))
      .digest('hex');
    result[path] = `${info.size} ${info.mtimeMs}${atime ? ` ${info.atimeMs}` : ''} ${hash} [${attributes.join(' ')}]`;
  }
  return result;
}

/** A cached image as Glance's xattr driver leaves it: `hits` null means the file has no `user.hits`. */
interface XattrImage {
  imageId: string;
  bytes: Buffer;
  hits: string | null;
  /** Days since the last read (atime) and since the commit (mtime). */
  accessedDaysAgo: number;
  cachedDaysAgo: number;
}

/**
 * Lays out a directory the way Glance's xattr driver leaves it (glance/image_cache/drivers/
 * xattr.py): committed images directly in it with `user.hits` as decimal text, their atime
 * and mtime as its only times; `incomplete/` (a download in progress, no attributes yet),
 * `invalid/` (a failed one, with `user.error`), `queue/` (empty markers, oldest first by
 * mtime); no cache.db. Times are more than a day old, so a plain read would move the
 * atime even under relatime.
 */
async function layOutGlanceXattrCache(root: string, images: XattrImage[], queue: string[]): Promise<string> {
  const dir = join(root, 'glance-xattr-cache');
  for (const sub of ['', 'incomplete', 'invalid', 'queue']) await mkdir(join(dir, sub), { recursive: true });
  const now = Date.now() / 1000;
  const day = 86_400;
  for (const image of images) {
    const path = join(dir, image.imageId);
    await writeFile(path, image.bytes);
    if (image.hits !== null) await setAttribute(path, 'user.hits', image.hits);
    await utimes(path, now - image.accessedDaysAgo * day, now - image.cachedDaysAgo * day);
  }
  await writeFile(join(dir, 'incomplete', id(5)), 'half a download');
  await writeFile(join(dir, 'invalid', id(6)), 'a failed download');
  await setAttribute(join(dir, 'invalid', id(6)), 'user.error', 'incomplete fetch');
  for (const [index, imageId] of queue.entries()) {
    const marker = join(dir, 'queue', imageId);
    await writeFile(marker, '');
    await utimes(marker, now - (queue.length - index) * 60, now - (queue.length - index) * 60);
  }
  return dir;
}

/** The file's bytes, read without moving its atime (O_NOATIME: we are root, or own the file). */
async function readUnaccessed(path: string): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOATIME);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

describe('import-glance', () => {
  it('adopts matching files, skips and explains the rest, carries the queue, and leaves Glance untouched', async () => {
    const one = randomBytes(200_000);
    const two = randomBytes(3000);
    const glance = await layOutGlanceCache(
      sandbox.root,
      [
        { imageId: id(1), size: one.length, hits: 5, file: one },
        { imageId: id(2), size: two.length, hits: 2, file: two, checksum: createHash('md5').update(two).digest('hex') },
        { imageId: id(3), size: 100, hits: 1, file: randomBytes(90) },
        { imageId: id(4), size: 50, hits: 0 },
        { imageId: '../etc', size: 4, hits: 0 },
      ],
      { [id(7)]: Buffer.from('orphan without a row') },
    );
    await writeFile(join(glance.dir, 'queue', id(8)), '');
    const before = await snapshot(glance.dir);

    const result = await sandbox.run(['--json', 'import-glance', glance.dir]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toEqual({
      source: glance.dir,
      driver: 'sqlite',
      database: join(glance.dir, 'cache.db'),
      imported: [
        { imageId: id(1), size: one.length, checksum: `sha256:${createHash('sha256').update(one).digest('hex')}` },
        { imageId: id(2), size: two.length, checksum: `sha256:${createHash('sha256').update(two).digest('hex')}` },
      ],
      skipped: [
        { imageId: '../etc', reason: 'invalid image id (not used as a file name here)' },
        { imageId: id(3), reason: 'size mismatch: file has 90 bytes, cache.db says 100' },
        { imageId: id(4), reason: 'file missing in the Glance directory' },
        { imageId: id(7), reason: 'no cache.db row (Glance never committed it)' },
      ],
      failed: [],
      queued: [id(8)],
      hitsNotCarried: 7,
    });

    expect(await snapshot(glance.dir)).toEqual(before);
    expect((await sandbox.run(['get', id(1)])).stdoutBytes.equals(one)).toBe(true);
    expect((await sandbox.run(['get', id(2)])).stdoutBytes.equals(two)).toBe(true);
    expect(await sandbox.json(['list-queued'])).toEqual({ queuedImages: [id(8)] });
    expect(await sandbox.run(['verify'])).toMatchObject({ code: 0, stdout: 'Verified 2 images: all intact.\n' });

    // Running it again imports nothing new and says why, in a human table.
    const again = await sandbox.run(['import-glance', glance.dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^Imported 0 images \(0 B\) from .*; 6 skipped, 0 failed, 0 queued\.\n\s+SKIPPED\s+REASON\n/,
    );
    expect(again.stdout).toMatch(new RegExp(`${id(1)}\\s+already cached here`));
    expect(await snapshot(glance.dir)).toEqual(before);
  });

  it('fails (exit 1) an image whose recorded md5 does not match, caching nothing for it', async () => {
    const bytes = randomBytes(1000);
    const glance = await layOutGlanceCache(sandbox.root, [
      { imageId: id(1), size: bytes.length, hits: 1, file: bytes, checksum: '0'.repeat(32) },
      { imageId: id(2), size: 3, hits: 3, file: Buffer.from('abc') },
    ]);
    const result = await sandbox.run(['import-glance', glance.dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Imported 1 image \(3 B\) from .*; 0 skipped, 1 failed, 0 queued\.\n/);
    expect(result.stdout).toMatch(new RegExp(`${id(1)}\\s+Checksum verification failed`));
    expect(result.stdout).toContain(
      'Hit counts are not carried over (3 Glance hits); imported images start at 0 hits.',
    );
    expect(result.stderr).toContain('imgcache: error: 1 image failed to import.');
    expect(
      (await sandbox.json(['list-cached'])).cachedImages.map((image: { imageId: string }) => image.imageId),
    ).toEqual([id(2)]);
  });

  it('refuses a directory without cache.db, a missing directory, and an overlapping --dir', async () => {
    const empty = join(sandbox.root, 'not-glance');
    await mkdir(empty);
    const noDb = await sandbox.run(['import-glance', empty]);
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toMatch(/Cannot open Glance's database .*cache\.db.*use --db/);
    expect(await readdir(empty)).toEqual([]);

    const missing = await sandbox.run(['import-glance', join(sandbox.root, 'nowhere')]);
    expect(missing).toMatchObject({
      code: 1,
      stderr: `imgcache: error: ${join(sandbox.root, 'nowhere')} is not a directory.\n`,
    });

    const glance = await layOutGlanceCache(sandbox.root, [
      { imageId: id(1), size: 1, hits: 0, file: Buffer.from('x') },
    ]);
    const before = await snapshot(glance.dir);
    const overlap = await sandbox.run(['--dir', join(glance.dir, 'imgcache'), 'import-glance', glance.dir]);
    expect(overlap.code).toBe(2);
    expect(overlap.stderr).toContain('overlaps the Glance directory');
    expect(await snapshot(glance.dir)).toEqual(before);
  });

  it('reads a database with another name via --db', async () => {
    const glance = await layOutGlanceCache(sandbox.root, [
      { imageId: id(1), size: 2, hits: 0, file: Buffer.from('hi') },
    ]);
    const renamed = join(sandbox.root, 'elsewhere.db');
    await writeFile(renamed, await readFile(join(glance.dir, 'cache.db')));
    const summary = await sandbox.json(['import-glance', glance.dir, '--db', renamed]);
    expect(summary.database).toBe(renamed);
    expect(summary.imported).toEqual([{ imageId: id(1), size: 2, checksum: expect.stringMatching(/^sha256:/) }]);
  });
});

describe("import-glance from a cache made by Glance's xattr driver", () => {
  const one = randomBytes(200_000);
  const two = randomBytes(3000);
  const four = randomBytes(70_000);
  const images: XattrImage[] = [
    { imageId: id(1), bytes: one, hits: '5', accessedDaysAgo: 2, cachedDaysAgo: 9 },
    { imageId: id(2), bytes: two, hits: '0', accessedDaysAgo: 8, cachedDaysAgo: 8 },
    { imageId: id(3), bytes: Buffer.from('copied in by hand'), hits: null, accessedDaysAgo: 3, cachedDaysAgo: 3 },
    { imageId: id(4), bytes: four, hits: '2', accessedDaysAgo: 4, cachedDaysAgo: 6 },
    { imageId: 'not an id', bytes: Buffer.from('x'), hits: '1', accessedDaysAgo: 5, cachedDaysAgo: 5 },
    // The xattr driver's probe file, left behind when its probe failed.
    { imageId: 'checkme', bytes: Buffer.from('XXX'), hits: null, accessedDaysAgo: 7, cachedDaysAgo: 7 },
  ];
  const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

  it('detects the driver without cache.db, adopts what it committed, carries the queue in order, and changes nothing there (names, sizes, mtimes, atimes, xattrs)', async () => {
    const dir = await layOutGlanceXattrCache(sandbox.root, images, [id(8), id(7)]);
    const before = await snapshot(dir, { atime: true });

    const result = await sandbox.run(['--json', 'import-glance', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      source: dir,
      driver: 'xattr',
      database: null,
      imported: [
        { imageId: id(1), size: one.length, checksum: sha256(one) },
        { imageId: id(2), size: two.length, checksum: sha256(two) },
        { imageId: id(4), size: four.length, checksum: sha256(four) },
      ],
      skipped: [
        { imageId: 'not an id', reason: 'invalid image id (not used as a file name here)' },
        { imageId: id(3), reason: 'no user.hits attribute (Glance never committed it)' },
      ],
      failed: [],
      queued: [id(8), id(7)],
      hitsNotCarried: 7,
    });

    expect(await snapshot(dir, { atime: true })).toEqual(before);
    expect((await sandbox.run(['get', id(1)])).stdoutBytes.equals(one)).toBe(true);
    expect((await sandbox.run(['get', id(4)])).stdoutBytes.equals(four)).toBe(true);
    // Queued in Glance's order; markers made within one clock tick here list by id, so compare as sets.
    expect((await sandbox.json(['list-queued'])).queuedImages.sort()).toEqual([id(7), id(8)]);
    expect(await sandbox.run(['verify'])).toMatchObject({ code: 0, stdout: 'Verified 3 images: all intact.\n' });

    const again = await sandbox.run(['import-glance', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^Imported 0 images \(0 B\) from .* \(Glance's xattr driver\); 5 skipped, 0 failed, 0 queued\.\n/,
    );
    expect(await snapshot(dir, { atime: true })).toEqual(before);
  });

  it('--glance-driver xattr reads a directory that also holds a cache.db, which auto-detection reads as sqlite', async () => {
    const dir = await layOutGlanceXattrCache(sandbox.root, images.slice(0, 2), []);
    // Left behind by a Glance once started with the sqlite driver: not a database of images here.
    await writeFile(join(dir, 'cache.db'), '');
    const before = await snapshot(dir);

    const auto = await sandbox.run(['import-glance', dir]);
    expect(auto.code).toBe(1);
    expect(auto.stderr).toContain('is not a Glance image cache database');

    const forced = await sandbox.json(['import-glance', dir, '--glance-driver', 'xattr']);
    expect(forced).toMatchObject({ driver: 'xattr', database: null, skipped: [], failed: [], hitsNotCarried: 5 });
    expect(forced.imported.map((image: { imageId: string }) => image.imageId)).toEqual([id(1), id(2)]);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses --db with --glance-driver xattr, and a forced xattr import where the filesystem has no xattrs', async (context) => {
    const dir = await layOutGlanceXattrCache(sandbox.root, images.slice(0, 1), []);
    const both = await sandbox.run(['import-glance', dir, '--glance-driver', 'xattr', '--db', join(dir, 'cache.db')]);
    expect(both).toMatchObject({
      code: 2,
      stderr: "imgcache: error: --db names the sqlite driver's database; Glance's xattr driver has none.\n",
    });
    const unknown = await sandbox.run(['import-glance', dir, '--glance-driver', 'redis']);
    expect(unknown.code).toBe(2);

    const ramfs = await mountScratch('ramfs');
    if ('skipReason' in ramfs) return context.skip(ramfs.skipReason);
    try {
      await writeFile(join(ramfs.dir, id(1)), 'bytes');
      const forced = await sandbox.run(['import-glance', ramfs.dir, '--glance-driver', 'xattr']);
      expect(forced).toMatchObject({
        code: 1,
        stderr: `imgcache: error: The filesystem of ${ramfs.dir} has no extended attributes, so Glance's xattr driver cannot have made it; try --glance-driver sqlite.\n`,
      });
      const auto = await sandbox.run(['import-glance', ramfs.dir]);
      expect(auto.code).toBe(1);
      expect(auto.stderr).toMatch(/Cannot open Glance's database .*cache\.db.*use --db .*or --glance-driver xattr/);
    } finally {
      await ramfs.unmount();
    }
  });
});
