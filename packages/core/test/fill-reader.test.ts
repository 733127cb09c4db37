import { describe, expect, it } from 'vitest';
import { ImgcacheError, type Fill } from '../src/index.js';
import { bytes, collect, digest, gatedCommit, openCache } from './helpers.js';

/**
 * The fill follower (fill-reader.ts) where its races live: each case drives the source by
 * hand, so a reader joins at a known point of the fill, never after a sleep.
 */

/** A source the test feeds chunk by chunk; `fail` breaks it like a dropped origin. */
function handSource(): {
  source: AsyncIterable<Uint8Array>;
  push: (chunk: Uint8Array) => void;
  end: () => void;
  fail: (error: Error) => void;
} {
  const queued: (Uint8Array | Error | null)[] = [];
  let wake: (() => void) | undefined;
  const put = (item: Uint8Array | Error | null) => {
    queued.push(item);
    wake?.();
  };
  async function* source(): AsyncGenerator<Uint8Array> {
    for (;;) {
      while (queued.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const item = queued.shift()!;
      if (item === null) return;
      if (item instanceof Error) throw item;
      yield item;
    }
  }
  return { source: source(), push: put, end: () => put(null), fail: put };
}

/** Resolves once the fill has taken `count` bytes from its source (each wake-up of the fill is an event). */
async function received(fill: Fill, count: number): Promise<void> {
  while (fill.bytesReceived < count) await fill.changed();
}

const CHUNK = 256 * 1024;
const split = (data: Buffer) =>
  Array.from({ length: Math.ceil(data.length / CHUNK) }, (_, i) => data.subarray(i * CHUNK, (i + 1) * CHUNK));

describe('readFill: a reader of a running fill', () => {
  it('joining at byte 0 before any byte arrived gets the whole image', async () => {
    const cache = await openCache();
    const data = bytes(3 * CHUNK + 17, 2);
    const feed = handSource();
    const filling = cache.cacheImageIter('img', feed.source, digest('sha256', data));
    const fill = await until(() => cache.getFill('img'));
    const reader = collect(fill.read());
    for (const chunk of split(data)) feed.push(chunk);
    feed.end();
    expect(await filling).toBe(true);
    expect((await reader).equals(data)).toBe(true);
  });

  it('joining mid-fill, from the start or from its own offset, gets exactly its bytes', async () => {
    const cache = await openCache();
    const data = bytes(6 * CHUNK, 3);
    const chunks = split(data);
    const feed = handSource();
    const filling = cache.cacheImageIter('img', feed.source, digest('sha256', data));
    const fill = await until(() => cache.getFill('img'));
    for (const chunk of chunks.slice(0, 3)) feed.push(chunk);
    await received(fill, 3 * CHUNK);
    const fromStart = collect(fill.read());
    const fromMiddle = collect(fill.read({ start: 2 * CHUNK + 5 }));
    const slice = collect(fill.read({ start: 100, end: 4 * CHUNK + 1 }));
    for (const chunk of chunks.slice(3)) feed.push(chunk);
    feed.end();
    expect(await filling).toBe(true);
    expect((await fromStart).equals(data)).toBe(true);
    expect((await fromMiddle).equals(data.subarray(2 * CHUNK + 5))).toBe(true);
    expect((await slice).equals(data.subarray(100, 4 * CHUNK + 1))).toBe(true);
  });

  it('joining after the checksum passed (tail released) but before the commit gets every byte', async () => {
    const slowCommit = gatedCommit();
    const cache = await openCache({ driver: slowCommit.factory });
    const data = bytes(2 * CHUNK + 9, 4);
    const feed = handSource();
    const filling = cache.cacheImageIter('img', feed.source, digest('sha256', data));
    const fill = await until(() => cache.getFill('img'));
    for (const chunk of split(data)) feed.push(chunk);
    feed.end();
    await slowCommit.reached;
    expect(fill.isVerified).toBe(true);
    const late = collect(fill.read());
    slowCommit.release();
    expect((await late).equals(data)).toBe(true);
    expect(await filling).toBe(true);
  });

  it('a reader that fell behind the in-memory window reads the file, then memory, without a gap', async () => {
    // Past the 4 MiB the fill keeps in memory: the first bytes are only on disk by then.
    const slowCommit = gatedCommit();
    const cache = await openCache({ driver: slowCommit.factory });
    const data = bytes(12 * 1024 * 1024 + 3, 5);
    const chunks = split(data);
    const feed = handSource();
    const filling = cache.cacheImageIter('img', feed.source, digest('sha256', data));
    const fill = await until(() => cache.getFill('img'));
    for (const chunk of chunks) feed.push(chunk);
    feed.end();
    await slowCommit.reached;
    const parts: Uint8Array[] = [];
    for await (const part of fill.read()) parts.push(Buffer.from(part));
    // The first part came from the file (a pooled read buffer), not the source's own chunk.
    expect(parts[0]).not.toBe(chunks[0]);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    slowCommit.release();
    expect(await filling).toBe(true);
  });

  it('a reader waiting for bytes gets the fill error when the source fails, never a short body that ends cleanly', async () => {
    const cache = await openCache();
    const data = bytes(4 * CHUNK, 6);
    const feed = handSource();
    const filling = cache.cacheImageIter('img', feed.source, digest('sha256', data)).catch((error: unknown) => error);
    const fill = await until(() => cache.getFill('img'));
    let got = 0;
    const reading = (async () => {
      for await (const part of fill.read()) got += part.byteLength;
    })().catch((error: unknown) => error);
    feed.push(data.subarray(0, CHUNK));
    await received(fill, CHUNK);
    const broken = new Error('origin connection reset');
    feed.fail(broken);
    expect(await reading).toBe(broken);
    expect(got).toBeLessThan(data.length);
    expect(await filling).toBe(broken);
    expect(await cache.isCached('img')).toBe(false);
  });

  it('aborting one reader ends that reader alone: the others and the fill go on to the end', async () => {
    const cache = await openCache();
    const data = bytes(5 * CHUNK, 7);
    const chunks = split(data);
    const feed = handSource();
    const filling = cache.cacheImageIter('img', feed.source, digest('sha256', data));
    const fill = await until(() => cache.getFill('img'));
    const controller = new AbortController();
    const aborted = collect(fill.read({ signal: controller.signal })).catch((error: unknown) => error);
    const others = [collect(fill.read()), collect(fill.read({ start: CHUNK }))];
    feed.push(chunks[0]!);
    await received(fill, CHUNK);
    controller.abort(new Error('client went away'));
    const error = await aborted;
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_ABORTED')).toBe(true);
    for (const chunk of chunks.slice(1)) feed.push(chunk);
    feed.end();
    expect(await filling).toBe(true);
    const [whole, tail] = await Promise.all(others);
    expect(whole!.equals(data)).toBe(true);
    expect(tail!.equals(data.subarray(CHUNK))).toBe(true);
    expect(await cache.isCached('img')).toBe(true);
  });
});

/** The value once `probe` gives one; each try waits for the next turn of the event loop. */
async function until<T>(probe: () => T | undefined): Promise<T> {
  for (let turn = 0; turn < 10_000; turn++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('never happened');
}
