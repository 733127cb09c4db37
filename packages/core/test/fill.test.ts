import { describe, expect, it } from 'vitest';
import { readBuffers, type FillStartResult } from '../src/index.js';
import { bytes, chunked, collect, digest, gatedCommit, listDir, openCache } from './helpers.js';

const source =
  (data: Buffer, chunk = 64 * 1024, pauseMs = 0, checksum?: string) =>
  async (): Promise<FillStartResult<never>> => ({
    source: { body: chunked(data, chunk, pauseMs), size: data.length, checksum: checksum ?? digest('sha256', data) },
  });

describe('the fill primitive', () => {
  it('releases the whole body to readers once it is verified, before the commit', async () => {
    const gate = gatedCommit();
    const cache = await openCache({ driver: gate.factory });
    const data = bytes(1024 * 1024 + 17, 3);
    const outcome = await cache.fill('img', source(data));
    expect(outcome).toMatchObject({ kind: 'joined', leader: true });
    if (outcome.kind !== 'joined') return;
    const body = await collect(outcome.fill.read());
    // Every byte arrived while the metadata commit is still held.
    expect(digest('sha256', body)).toBe(digest('sha256', data));
    await gate.reached;
    // Meanwhile the image answers as cached: new callers wait for the commit, then see it.
    const cachedLater = cache.isCached('img');
    const joined = await cache.fill('img', async () => ({ decline: 'no second origin request' }));
    expect(joined).toMatchObject({ kind: 'joined', leader: false });
    gate.release();
    expect(await cachedLater).toBe(true);
    expect(await outcome.fill.done).toMatchObject({ imageId: 'img', size: data.length });
  });

  it('holds back the last byte until the checksum matches: a mismatch ends with size - 1 bytes and the error', async () => {
    const cache = await openCache();
    const data = bytes(300_000, 5);
    const outcome = await cache.fill('img', source(data, 50_000, 1, digest('sha256', bytes(10))));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const received: Uint8Array[] = [];
    const error = await (async () => {
      for await (const chunk of outcome.fill.read()) received.push(chunk);
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
    expect(Buffer.concat(received).length).toBe(data.length - 1);
    await expect(outcome.fill.done).rejects.toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
    expect(await cache.isCached('img')).toBe(false);
    expect(await listDir(cache.layout.incompleteDir)).toEqual([]);
  });

  it('fails a body longer than announced as soon as it passes the size', async () => {
    const cache = await openCache();
    const data = bytes(200_000, 6);
    const outcome = await cache.fill('img', async () => ({ source: { body: chunked(data, 10_000), size: 100_000 } }));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const received: Uint8Array[] = [];
    const error = await (async () => {
      for await (const chunk of outcome.fill.read()) received.push(chunk);
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_IMGCACHE_SIZE_MISMATCH' });
    expect(Buffer.concat(received).length).toBeLessThan(100_000);
  });

  it('serves a reader that joins late, or lags, from the file: every reader gets every byte', async () => {
    const cache = await openCache();
    // 24 MiB: far more than the fill keeps in memory, so the late reader starts on disk.
    const data = bytes(24 * 1024 * 1024, 7);
    const outcome = await cache.fill('img', source(data, 256 * 1024));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const fast = collect(outcome.fill.read());
    while (outcome.fill.bytesReceived < 20 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 2));
    const late = collect(outcome.fill.read());
    const ranged = collect(outcome.fill.read({ start: 1000, end: 5000 }));
    expect(digest('sha256', await fast)).toBe(digest('sha256', data));
    expect(digest('sha256', await late)).toBe(digest('sha256', data));
    expect((await ranged).equals(data.subarray(1000, 5000))).toBe(true);
    expect(await outcome.fill.done).toMatchObject({ size: data.length });
  });

  it('reads lagging bytes into pooled buffers; chunks given back are reused and never change a body', async () => {
    const cache = await openCache();
    const data = bytes(12 * 1024 * 1024, 11);
    const outcome = await cache.fill('img', source(data, 256 * 1024));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    // Two readers take their first chunk, then wait until the fill is done: the rest is on
    // disk, read through the pool. Each copies a chunk, then gives it back, as a socket
    // writer does once the kernel has the bytes.
    const readers = [outcome.fill.read(), outcome.fill.read()];
    const firsts = await Promise.all(
      readers.map(async (reader) => Buffer.from((await reader.next()).value as Uint8Array)),
    );
    await outcome.fill.done;
    const readGivingBack = async (index: number) => {
      const parts: Buffer[] = [firsts[index]!];
      for await (const chunk of readers[index]!) {
        parts.push(Buffer.from(chunk));
        readBuffers.give(chunk);
      }
      return Buffer.concat(parts);
    };
    const before = readBuffers.idle;
    const [one, two] = await Promise.all([readGivingBack(0), readGivingBack(1)]);
    expect(digest('sha256', one)).toBe(digest('sha256', data));
    expect(digest('sha256', two)).toBe(digest('sha256', data));
    // The readers borrowed and returned: the pool holds at least as many buffers as before.
    expect(readBuffers.idle).toBeGreaterThanOrEqual(Math.min(before + 1, readBuffers.keep));
  });

  it('ends a waiting reader whose signal aborts, and only that reader', async () => {
    const cache = await openCache();
    const data = bytes(512 * 1024, 12);
    const outcome = await cache.fill('img', source(data, 64 * 1024, 30));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const controller = new AbortController();
    const aborted = outcome.fill.read({ signal: controller.signal })[Symbol.asyncIterator]();
    const other = collect(outcome.fill.read());
    await aborted.next();
    // The next chunk is 30 ms away: this reader is waiting when its signal aborts.
    const waiting = aborted.next();
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_IMGCACHE_ABORTED' });
    expect(digest('sha256', await other)).toBe(digest('sha256', data));
    expect(await outcome.fill.done).toMatchObject({ size: data.length });
  });

  it('does not wait for readers: a reader that never reads does not hold up the fill', async () => {
    const cache = await openCache();
    const data = bytes(4 * 1024 * 1024, 8);
    const outcome = await cache.fill('img', source(data, 64 * 1024));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const idle = outcome.fill.read()[Symbol.asyncIterator]();
    await idle.next();
    expect(await outcome.fill.done).toMatchObject({ size: data.length });
    // The idle reader still gets the rest, from the file, after the commit.
    const rest: Uint8Array[] = [];
    for (let next = await idle.next(); !next.done; next = await idle.next()) rest.push(next.value);
    expect(64 * 1024 + Buffer.concat(rest).length).toBe(data.length);
  });

  it('runs start once for concurrent callers; a declined start lets the next caller try its own', async () => {
    const cache = await openCache();
    const data = bytes(500_000, 9);
    let starts = 0;
    const start = async (): Promise<FillStartResult<string>> => {
      starts++;
      if (starts === 1) return { decline: 'refused for the first caller' };
      return { source: { body: chunked(data, 50_000, 1), size: data.length } };
    };
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => cache.fill('img', start)));
    expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual([
      'declined',
      'joined',
      'joined',
      'joined',
      'joined',
    ]);
    expect(starts).toBe(2);
    for (const outcome of outcomes)
      if (outcome.kind === 'joined') expect((await collect(outcome.fill.read())).equals(data)).toBe(true);
  });

  it('a reader whose signal aborts stops at once without disturbing the fill', async () => {
    const cache = await openCache();
    const data = bytes(400_000, 10);
    const outcome = await cache.fill('img', source(data, 20_000, 2));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const stop = new AbortController();
    const reading = collect(outcome.fill.read({ signal: stop.signal })).catch((e: unknown) => e);
    stop.abort(new Error('client went away'));
    expect(await reading).toMatchObject({ code: 'ERR_IMGCACHE_ABORTED' });
    expect(await outcome.fill.done).toMatchObject({ size: data.length });
  });

  it('verifies every checksum it is given: one that does not match fails the fill', async () => {
    const cache = await openCache();
    const data = bytes(200_000, 11);
    const wrongMd5 = digest('md5', bytes(10));
    const outcome = await cache.fill('img', async () => ({
      source: { body: chunked(data), size: data.length, checksum: [digest('sha512', data), wrongMd5] },
    }));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    await expect(collect(outcome.fill.read())).rejects.toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
    expect(await cache.isCached('img')).toBe(false);
  });

  it('records the digest in the requested algorithm, and the Last-Modified taken when the fill began', async () => {
    const cache = await openCache({ checksumAlgorithm: 'sha256' });
    const data = bytes(300_000, 12);
    const checksum = [digest('sha512', data), digest('md5', data)];
    const outcome = await cache.fill('img', async () => ({
      source: { body: chunked(data, 30_000, 2), size: data.length, checksum, recordAlgorithm: 'md5' as const },
    }));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const announced = outcome.fill.lastModified;
    expect(await outcome.fill.done).toMatchObject({ checksum: digest('md5', data) });
    const entry = (await cache.getCachedImage('img'))!;
    expect(entry.checksum).toBe(digest('md5', data));
    expect(entry.lastModified.getTime()).toBe(announced);
    // The recorded digest is what `verify` checks the file against.
    expect(await cache.verify(['img'])).toEqual({ checked: 1, failed: [] });
  });
});
