import { describe, expect, it } from 'vitest';
import { KeyLock } from '../src/key-lock.js';
import { sleep } from './helpers.js';

describe('KeyLock', () => {
  it('runs tasks of one key one at a time, in order, and other keys alongside', async () => {
    const lock = new KeyLock();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      lock.run('a', task('a1', 10)),
      lock.run('a', task('a2', 1)),
      lock.run('b', task('b1', 1)),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
    await lock.drain();
    expect(lock.size).toBe(0);
  });

  it('keeps going after a failed task and passes the failure to its caller only', async () => {
    const lock = new KeyLock();
    const failed = lock.run('a', async () => {
      throw new Error('boom');
    });
    const next = lock.run('a', async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('drain waits for work queued before and during the drain', async () => {
    const lock = new KeyLock();
    let done = 0;
    void lock.run('a', async () => {
      await sleep(5);
      done++;
      void lock.run('b', async () => {
        await sleep(5);
        done++;
      });
    });
    await lock.drain();
    expect(done).toBe(2);
  });
});
