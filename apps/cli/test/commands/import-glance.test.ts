import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/run-cli.js';

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
async function layOutGlanceCache(root: string, rows: { imageId: string; size: number; hits: number; checksum?: string | null; file?: Buffer }[], extraFiles: Record<string, Buffer> = {}): Promise<GlanceFixture> {
  const dir = join(root, 'glance-image-cache');
  for (const sub of ['', 'incomplete', 'invalid', 'queue']) await mkdir(join(dir, sub), { recursive: true });
  const bytes = new Map<string, Buffer>();
  const db = new Database(join(dir, 'cache.db'));
  db.exec(GLANCE_SCHEMA);
  const insert = db.prepare('INSERT INTO cached_images (image_id, last_accessed, last_modified, hits, size, checksum) VALUES (?, ?, ?, ?, ?, ?)');
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

/** Every file under `dir` with its size, mtime and content hash. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    result[path] = entry.isFile() ? `${info.size} ${info.mtimeMs} ${createHash('sha256').update(await readFile(path)).digest('hex')}` : `dir ${info.mtimeMs}`;
  }
  return result;
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
    expect(again.stdout).toMatch(/^Imported 0 images \(0 B\) from .*; 6 skipped, 0 failed, 0 queued\.\n\s+SKIPPED\s+REASON\n/);
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
    expect(result.stdout).toContain('Hit counts are not carried over (3 Glance hits); imported images start at 0 hits.');
    expect(result.stderr).toContain('imgcache: error: 1 image failed to import.');
    expect((await sandbox.json(['list-cached'])).cachedImages.map((image: { imageId: string }) => image.imageId)).toEqual([id(2)]);
  });

  it('refuses a directory without cache.db, a missing directory, and an overlapping --dir', async () => {
    const empty = join(sandbox.root, 'not-glance');
    await mkdir(empty);
    const noDb = await sandbox.run(['import-glance', empty]);
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toMatch(/Cannot open Glance's database .*cache\.db.*use --db/);
    expect(await readdir(empty)).toEqual([]);

    const missing = await sandbox.run(['import-glance', join(sandbox.root, 'nowhere')]);
    expect(missing).toMatchObject({ code: 1, stderr: `imgcache: error: ${join(sandbox.root, 'nowhere')} is not a directory.\n` });

    const glance = await layOutGlanceCache(sandbox.root, [{ imageId: id(1), size: 1, hits: 0, file: Buffer.from('x') }]);
    const before = await snapshot(glance.dir);
    const overlap = await sandbox.run(['--dir', join(glance.dir, 'imgcache'), 'import-glance', glance.dir]);
    expect(overlap.code).toBe(2);
    expect(overlap.stderr).toContain('overlaps the Glance directory');
    expect(await snapshot(glance.dir)).toEqual(before);
  });

  it('reads a database with another name via --db', async () => {
    const glance = await layOutGlanceCache(sandbox.root, [{ imageId: id(1), size: 2, hits: 0, file: Buffer.from('hi') }]);
    const renamed = join(sandbox.root, 'elsewhere.db');
    await writeFile(renamed, await readFile(join(glance.dir, 'cache.db')));
    const summary = await sandbox.json(['import-glance', glance.dir, '--db', renamed]);
    expect(summary.database).toBe(renamed);
    expect(summary.imported).toEqual([{ imageId: id(1), size: 2, checksum: expect.stringMatching(/^sha256:/) }]);
  });
});
