import { open, readdir, truncate, utimes, writeFile } from 'node:fs/promises';
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

const KiB = 1024;

async function cacheSized(imageId: string, size: number): Promise<void> {
  const result = await sandbox.run(['cache-image', imageId, '-'], { input: Buffer.alloc(size, imageId) });
  expect(result.code, result.stderr).toBe(0);
}

describe('prune', () => {
  it('plans with --dry-run without evicting, then evicts least recently used first', async () => {
    for (const id of ['old', 'middle', 'new']) await cacheSized(id, 4 * KiB);
    // Reading "old" makes it the most recently used.
    expect((await sandbox.run(['get', 'old'])).code).toBe(0);

    const plan = await sandbox.json(['--max-size', '5KiB', 'prune', '--dry-run']);
    expect(plan).toEqual({
      dryRun: true,
      maxSize: 5 * KiB,
      sizeBefore: 12 * KiB,
      sizeAfter: 4 * KiB,
      files: 2,
      bytes: 8 * KiB,
      images: [
        { imageId: 'middle', size: 4 * KiB },
        { imageId: 'new', size: 4 * KiB },
      ],
    });
    const human = await sandbox.run(['prune', '--dry-run', '--max-size', '5KiB']);
    expect(human.stdout).toMatch(
      /^Would evict 2 images \(8 KiB\): 12 KiB cached, budget 5 KiB, 4 KiB after\.\n\s+ID\s+SIZE\n\s+middle\s+4 KiB\n\s+new\s+4 KiB\n$/,
    );
    expect((await sandbox.json(['list-cached'])).cachedImages).toHaveLength(3);

    const pruned = await sandbox.run(['prune', '--max-size', '5KiB']);
    expect(pruned).toMatchObject({
      code: 0,
      stdout: 'Evicted 2 images (8 KiB): 12 KiB cached, budget 5 KiB, 4 KiB after.\n',
    });
    expect(
      (await sandbox.json(['list-cached'])).cachedImages.map((image: { imageId: string }) => image.imageId),
    ).toEqual(['old']);
    expect(await readdir(join(sandbox.dir, 'images'))).toEqual(['old']);

    expect(await sandbox.run(['prune', '--max-size', '5KiB'])).toMatchObject({
      code: 0,
      stdout: 'Nothing to prune: 4 KiB cached, budget 5 KiB.\n',
    });
    expect(await sandbox.json(['prune', '--max-size', '5KiB'])).toEqual({
      dryRun: false,
      maxSize: 5 * KiB,
      sizeBefore: 4 * KiB,
      sizeAfter: 4 * KiB,
      files: 0,
      bytes: 0,
    });
  });

  it('takes the budget from IMGCACHE_MAX_SIZE', async () => {
    await cacheSized('a', 2 * KiB);
    await cacheSized('b', 2 * KiB);
    const result = await sandbox.json(['prune'], { env: { IMGCACHE_MAX_SIZE: '3K' } });
    expect(result).toMatchObject({ maxSize: 3 * KiB, files: 1, bytes: 2 * KiB });
  });
});

describe('clean', () => {
  it('removes invalid files and only incomplete writes older than the stall time', async () => {
    await cacheSized('a', 10);
    await writeFile(join(sandbox.dir, 'invalid', 'x~1-aaa'), 'bad');
    await writeFile(join(sandbox.dir, 'invalid', 'y~1-bbb'), 'bad');
    // Writes of a live process (this test runner) survive the startup reconcile, so only
    // their age decides whether clean reaps them. Clean runs in a process of its own, for
    // which this runner is another process.
    const stale = join(sandbox.dir, 'incomplete', `stale~${process.pid}-abc`);
    const fresh = join(sandbox.dir, 'incomplete', `fresh~${process.pid}-def`);
    await writeFile(stale, 'partial');
    await writeFile(fresh, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);

    const result = await sandbox.jsonBin(['clean', '--stall-time', '1h']);
    expect(result).toEqual({ stallTime: 3600, incomplete: 1, invalid: 2 });
    expect(await readdir(join(sandbox.dir, 'incomplete'))).toEqual([`fresh~${process.pid}-def`]);
    expect(await readdir(join(sandbox.dir, 'invalid'))).toEqual([]);

    const human = await sandbox.runBin(['clean', '--stall-time', '0']);
    expect(human).toMatchObject({
      code: 0,
      stdout: 'Removed 1 stalled write (unchanged for 0 s) and 0 invalid files.\n',
    });
  });

  it('rejects a bad --stall-time as a usage error', async () => {
    const result = await sandbox.run(['clean', '--stall-time', 'a while']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"a while" is not a duration');
  });
});

describe('verify', () => {
  it('passes intact images, then catches a flipped byte, quarantines it and exits 1', async () => {
    await cacheSized('good', 64 * KiB);
    await cacheSized('victim', 64 * KiB);
    expect(await sandbox.run(['verify'])).toMatchObject({ code: 0, stdout: 'Verified 2 images: all intact.\n' });

    const handle = await open(join(sandbox.dir, 'images', 'victim'), 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 1000);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, 1000);
    await handle.close();

    const result = await sandbox.run(['verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^Verified 2 images: 1 failed \(corrupt ones moved to invalid\/\):\n\s+ID\s+PROBLEM\n\s+victim\s+checksum is sha256:[0-9a-f]{64}, expected sha256:[0-9a-f]{64}\n$/,
    );
    expect(result.stderr).toContain('imgcache: error: 1 image failed verification.');
    expect(await readdir(join(sandbox.dir, 'images'))).toEqual(['good']);
    expect((await readdir(join(sandbox.dir, 'invalid'))).some((name) => name.startsWith('victim~'))).toBe(true);
    expect(
      (await sandbox.json(['list-cached'])).cachedImages.map((image: { imageId: string }) => image.imageId),
    ).toEqual(['good']);
  });

  it('verifies only the named ids, and reports ids that are not cached (exit 1, JSON shape)', async () => {
    await cacheSized('good', 100);
    expect(await sandbox.json(['verify', 'good'])).toEqual({ checked: 1, failed: [], repairedAtOpen: [], invalid: [] });
    const result = await sandbox.run(['--json', 'verify', 'good', 'ghost']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      checked: 1,
      failed: [{ imageId: 'ghost', reason: 'not cached' }],
      repairedAtOpen: [],
      invalid: [],
    });
  });
});

describe('a cached file resized behind the cache', () => {
  const resized = async () => {
    await cacheSized('good', 4 * KiB);
    await cacheSized('victim', 4 * KiB);
    await truncate(join(sandbox.dir, 'images', 'victim'), 100);
  };

  it('any command names the image and the cause; a later verify and stats list it as quarantined', async () => {
    await resized();
    const listed = await sandbox.run(['list-cached']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(
      /^imgcache: warning: startup reconcile: quarantined image victim \(file is 100 bytes, its metadata says 4096\): moved to invalid\/victim~resized-[0-9a-f]{12}\n$/,
    );
    expect(listed.stderr).not.toContain('unclean shutdown');

    const verified = await sandbox.run(['verify']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(
      /^Verified 1 image: all intact\.\n1 file quarantined earlier is in invalid\/ \(clean deletes them\):\n\s+ID\s+CAUSE\s+SIZE\s+FILE\n\s+victim\s+resized\s+100 B\s+invalid\/victim~resized-[0-9a-f]{12}\n$/,
    );
    const stats = await sandbox.json(['stats']);
    expect(stats.quarantined).toEqual([
      { name: expect.stringMatching(/^victim~resized-/), imageId: 'victim', cause: 'resized', size: 100 },
    ]);
    expect(stats.repairedAtOpen).toEqual([]);
    expect((await sandbox.run(['stats'])).stdout).toMatch(
      /Quarantined in invalid\/ \(clean deletes them\):\n\s+ID\s+CAUSE\s+SIZE\s+FILE\n\s+victim\s+resized\s+100 B\s+invalid\/victim~resized-[0-9a-f]{12}\n/,
    );
  });

  it('verify reports what the startup reconcile of the same run quarantined, and exits 1', async () => {
    await resized();
    const result = await sandbox.run(['verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^Opening the cache repaired 1 file:\n\s+ID\s+ACTION\s+PROBLEM\s+MOVED TO\n\s+victim\s+quarantined\s+file is 100 bytes, its metadata says 4096\s+invalid\/victim~resized-[0-9a-f]{12}\nVerified 1 image: all intact\.\n$/,
    );
    expect(result.stderr).toContain('imgcache: error: 1 file was moved aside or dropped when the cache was opened.');
    const json = await sandbox.run(['--json', 'verify']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      checked: 1,
      failed: [],
      repairedAtOpen: [],
      invalid: [{ imageId: 'victim', cause: 'resized', size: 100 }],
    });
  });

  it('stats reports what the startup reconcile of the same run quarantined', async () => {
    await resized();
    const stats = await sandbox.json(['stats']);
    expect(stats.repairedAtOpen).toEqual([
      {
        action: 'quarantined',
        imageId: 'victim',
        cause: 'resized',
        reason: 'file is 100 bytes, its metadata says 4096',
        movedTo: expect.stringMatching(/^invalid\/victim~resized-[0-9a-f]{12}$/),
      },
    ]);
    expect(stats.count).toBe(1);
  });
});
