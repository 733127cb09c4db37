import { ImgcacheError } from '@imgcache/core';
import { mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitStatusOf } from '../../src/errors.js';
import { resolveWriteTarget, writeToPath } from '../../src/io/write-to-path.js';
import { makeFifo } from '../helpers/special-files.js';

let dir: string;
beforeEach(async () => {
  // realpath: the temp dir itself may sit behind a link, and targets come back resolved.
  dir = await realpath(await mkdtemp(join(tmpdir(), 'imgcache-write-')));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A source that yields `chunks` and then fails, as a download cut off midway does. */
function failingAfter(chunks: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      yield* chunks;
      throw new Error('origin went away');
    })(),
  );
}

describe('resolveWriteTarget', () => {
  it('classifies a missing path and a regular file as replaced, a FIFO as written in place', async () => {
    expect(await resolveWriteTarget(join(dir, 'missing'))).toMatchObject({
      path: join(dir, 'missing'),
      strategy: 'replace',
      existing: null,
    });
    await writeFile(join(dir, 'file'), 'x');
    expect(await resolveWriteTarget(join(dir, 'file'))).toMatchObject({ path: join(dir, 'file'), strategy: 'replace' });
    await makeFifo(join(dir, 'fifo'));
    expect(await resolveWriteTarget(join(dir, 'fifo'))).toMatchObject({
      path: join(dir, 'fifo'),
      strategy: 'in-place',
    });
  });

  it('resolves chains of links to the file at their end, existing or not', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await symlink('file', join(dir, 'one'));
    await symlink(join(dir, 'one'), join(dir, 'two'));
    expect(await resolveWriteTarget(join(dir, 'two'))).toMatchObject({
      requested: join(dir, 'two'),
      path: join(dir, 'file'),
      strategy: 'replace',
    });
    await symlink('nowhere', join(dir, 'dangling'));
    await symlink('dangling', join(dir, 'to-dangling'));
    expect(await resolveWriteTarget(join(dir, 'to-dangling'))).toMatchObject({
      path: join(dir, 'nowhere'),
      strategy: 'replace',
      existing: null,
    });
  });

  it('refuses a directory and a cycle of links', async () => {
    await expect(resolveWriteTarget(dir)).rejects.toSatisfy(
      (error) => ImgcacheError.is(error, 'ERR_IMGCACHE_CLI_USAGE') && exitStatusOf(error) === 2,
    );
    await symlink('b', join(dir, 'a'));
    await symlink('a', join(dir, 'b'));
    await expect(resolveWriteTarget(join(dir, 'a'))).rejects.toMatchObject({ code: 'ELOOP' });
  });
});

describe('writeToPath', () => {
  it('leaves the old file untouched and no partial file when the source fails midway', async () => {
    const file = join(dir, 'image.raw');
    await writeFile(file, 'old contents');
    const source = failingAfter([Buffer.alloc(64 * 1024, 1), Buffer.alloc(64 * 1024, 2)]);
    await expect(writeToPath(await resolveWriteTarget(file), source)).rejects.toThrow('origin went away');
    expect(await readFile(file, 'utf8')).toBe('old contents');
    expect(await readdir(dir)).toEqual(['image.raw']);
    expect(source.destroyed).toBe(true);
  });

  it('creates nothing when the source fails before a missing target is complete', async () => {
    const target = await resolveWriteTarget(join(dir, 'new.raw'));
    await expect(writeToPath(target, failingAfter([Buffer.from('half')]))).rejects.toThrow('origin went away');
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes every byte of a stream to a new file', async () => {
    const chunks = Array.from({ length: 40 }, (_, index) => Buffer.alloc(100_000, index));
    await writeToPath(await resolveWriteTarget(join(dir, 'new.raw')), Readable.from(chunks));
    expect((await readFile(join(dir, 'new.raw'))).equals(Buffer.concat(chunks))).toBe(true);
    expect(await readdir(dir)).toEqual(['new.raw']);
  });
});
