import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/run-cli.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

async function cacheBytes(imageId: string, bytes: string): Promise<void> {
  const file = join(sandbox.root, `${imageId}.src`);
  await writeFile(file, bytes);
  const result = await sandbox.run(['cache-image', imageId, file]);
  expect(result.code, result.stderr).toBe(0);
}

describe('list-cached', () => {
  it('says so when nothing is cached, and prints an empty JSON list', async () => {
    const human = await sandbox.run(['list-cached']);
    expect(human).toMatchObject({ code: 0, stdout: 'No cached images.\n', stderr: '' });
    expect(await sandbox.json(['list-cached'])).toEqual({ cachedImages: [] });
  });

  it('lists cached images as an aligned table and as exact JSON', async () => {
    await cacheBytes('img-b', 'x'.repeat(1536));
    await cacheBytes('img-a', 'hello');
    const human = await sandbox.run(['list-cached']);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Found 2 cached images (1.5 KiB):');
    expect(lines[1]).toMatch(/^ID\s+SIZE\s+HITS\s+LAST ACCESSED\s+CACHED$/);
    expect(lines[2]).toMatch(/^img-a\s+5 B\s+0\s+just now\s+just now$/);
    expect(lines[3]).toMatch(/^img-b\s+1\.5 KiB\s+0\s+just now\s+just now$/);
    // Right-aligned sizes end in the same column.
    expect(lines[2]!.indexOf('5 B') + 3).toBe(lines[3]!.indexOf('1.5 KiB') + 7);

    const { cachedImages } = await sandbox.json(['list-cached']);
    expect(cachedImages).toEqual([
      {
        imageId: 'img-a',
        size: 5,
        hits: 0,
        lastAccessed: expect.any(String),
        lastModified: expect.any(String),
        checksum: 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      },
      {
        imageId: 'img-b',
        size: 1536,
        hits: 0,
        lastAccessed: expect.any(String),
        lastModified: expect.any(String),
        checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      },
    ]);
    for (const image of cachedImages) expect(new Date(image.lastModified).toISOString()).toBe(image.lastModified);
  });

  it('adds ISO times and checksums with --verbose', async () => {
    await cacheBytes('img-a', 'hello');
    const result = await sandbox.run(['list-cached', '-v']);
    expect(result.stdout).toMatch(/LAST ACCESSED \(UTC\)\s+CACHED \(UTC\)\s+CHECKSUM/);
    expect(result.stdout).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    expect(result.stdout).toContain('sha256:2cf24dba');
  });
});

describe('queue-image, list-queued, delete-queued-image, delete-cached-image', () => {
  it('queues, lists oldest first, reports duplicates and cached ids, and deletes', async () => {
    await cacheBytes('cached-one', 'abc');
    const queued = await sandbox.run(['queue-image', 'q-1', 'q-2', 'q-1', 'cached-one']);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toBe(
      'Queued image q-1 for caching.\nQueued image q-2 for caching.\nDid not queue image q-1: already queued.\nDid not queue image cached-one: already cached.\n',
    );
    expect(await sandbox.json(['queue-image', 'q-3', 'q-3'])).toEqual({
      results: [
        { imageId: 'q-3', queued: true },
        { imageId: 'q-3', queued: false, reason: 'already queued' },
      ],
    });
    const { queuedImages } = await sandbox.json(['list-queued']);
    expect(queuedImages).toHaveLength(3);
    expect(new Set(queuedImages)).toEqual(new Set(['q-1', 'q-2', 'q-3']));
    const listed = await sandbox.run(['list-queued']);
    expect(listed.stdout).toMatch(/^Found 3 queued images \(oldest first\):\n#\s+ID\n1\s+q-/);

    expect(await sandbox.json(['delete-queued-image', 'q-1', 'nope'])).toEqual({
      results: [
        { imageId: 'q-1', deleted: true },
        { imageId: 'nope', deleted: false },
      ],
    });
    const again = await sandbox.run(['delete-queued-image', 'q-2']);
    expect(again).toMatchObject({ code: 0, stdout: 'Deleted queued image q-2.\n' });

    const deleted = await sandbox.run(['delete-cached-image', 'cached-one', 'never-cached']);
    expect(deleted).toMatchObject({
      code: 0,
      stdout: 'Deleted cached image cached-one.\nImage never-cached was not cached.\n',
    });
    expect(await sandbox.json(['list-cached'])).toEqual({ cachedImages: [] });
  });

  it.each([
    ['queue-image', ['ok-id', '../escape']],
    ['delete-cached-image', ['bad/id']],
    ['delete-queued-image', ['..']],
    ['cache-image', ['a b', '-']],
    ['get', ['semi;colon']],
    ['verify', ['ok', 'x'.repeat(256)]],
  ])('%s rejects invalid ids with exit 1 before touching the filesystem', async (command, args) => {
    const result = await sandbox.run([command, ...args]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^imgcache: error: Invalid image id .*Image ids are 1-255 characters/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await expect(access(sandbox.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(access(join(sandbox.root, 'escape'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('stats', () => {
  it('reports size, budget, counts, hits and work-dir bytes', async () => {
    await cacheBytes('img-a', 'hello');
    await sandbox.run(['queue-image', 'later']);
    const got = await sandbox.run(['get', 'img-a']);
    expect(got.stdout).toBe('hello');
    await writeFile(join(sandbox.dir, 'invalid', 'junk~1-abc'), 'x'.repeat(100));
    const stats = await sandbox.json(['--max-size', '1KiB', 'stats']);
    expect(stats).toEqual({
      dir: sandbox.dir,
      driver: 'sqlite',
      count: 1,
      totalSize: 5,
      maxSize: 1024,
      maxSizeSource: 'flag',
      totalHits: 1,
      queued: 1,
      incomplete: { files: 0, bytes: 0 },
      invalid: { files: 1, bytes: 100 },
      checksumAlgorithm: 'sha256',
      stallTime: 86_400,
      quarantined: [{ name: 'junk~1-abc', imageId: 'junk~1-abc', cause: 'unknown', size: 100 }],
      repairedAtOpen: [],
    });
    const human = await sandbox.run(['stats', '--max-size', '1KiB']);
    expect(human.stdout).toContain('Size        5 B of 1 KiB (0.5%)\n');
    expect(human.stdout).toContain('Invalid     1 file (100 B)\n');
    expect(human.stdout).toContain('Hits        1\n');
    expect(human.stdout).toContain('Stall time  1 day\n');
  });
});
