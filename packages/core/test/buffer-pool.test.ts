import { describe, expect, it } from 'vitest';
import { BufferPool } from '../src/index.js';

describe('BufferPool', () => {
  it('lends buffers of its size and takes back a buffer or any view of it, once', () => {
    const pool = new BufferPool(1024, 2);
    const a = pool.take();
    expect(a.byteLength).toBe(1024);
    pool.give(a.subarray(0, 10));
    expect(pool.idle).toBe(1);
    pool.give(a); // a second return of the same buffer is ignored
    expect(pool.idle).toBe(1);
    expect(pool.take()).toBe(a);
  });

  it('ignores bytes it never lent, and keeps at most `keep` free buffers', () => {
    const pool = new BufferPool(1024, 2);
    pool.give(Buffer.alloc(1024));
    pool.give(new Uint8Array(1024));
    expect(pool.idle).toBe(0);
    const lent = [pool.take(), pool.take(), pool.take()];
    expect(new Set(lent).size).toBe(3);
    for (const buffer of lent) pool.give(buffer);
    expect(pool.idle).toBe(2);
  });
});
