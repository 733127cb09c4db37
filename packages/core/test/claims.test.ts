import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isClaimed, releaseClaim, takeLock, takeLocks } from '../src/claims.js';
import { workFileName } from '../src/names.js';
import { bytes, listDir, openCache } from './helpers.js';

describe('claims', () => {
  it('give one lock per image at a time, and release it', async () => {
    const cache = await openCache();
    const first = await takeLock(cache.layout, 'img');
    expect(first).not.toBeNull();
    expect(await takeLock(cache.layout, 'img')).toBeNull();
    expect(await isClaimed(cache.layout, 'img')).toBe(true);
    const batch = await takeLocks(cache.layout, ['img', 'other', 'third']);
    expect(batch.map((lock) => lock.imageId).sort()).toEqual(['other', 'third']);
    await Promise.all([first!, ...batch].map(releaseClaim));
    expect(await isClaimed(cache.layout, 'img')).toBe(false);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('a fill waits for a lock of its own process (a delete or verify step), but backs off from another process', async () => {
    const cache = await openCache();
    const lock = (await takeLock(cache.layout, 'img'))!;
    setTimeout(() => void releaseClaim(lock), 20);
    expect(await cache.cacheImageIter('img', [bytes(100)])).toBe(true);

    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await writeFile(join(cache.layout.incompleteDir, workFileName('second', other.pid!, undefined, true)), '');
      expect(await cache.cacheImageIter('second', [bytes(100)])).toBe(false);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
