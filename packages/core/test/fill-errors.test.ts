import { describe, expect, it } from 'vitest';
import type { FillStartResult } from '../src/index.js';
import { bytes, chunked, collect, digest, openCache } from './helpers.js';

const slowSource = (data: Buffer) => async (): Promise<FillStartResult<never>> => ({
  source: { body: chunked(data, 64 * 1024, 30), size: data.length, checksum: digest('sha256', data) },
});

// One error code per meaning: a reader learns why its bytes stopped from the code alone.
describe('why a fill reader stops', () => {
  it('a fill stopped by close() rejects its readers with ERR_IMGCACHE_CLOSED', async () => {
    const cache = await openCache();
    const data = bytes(512 * 1024, 21);
    const outcome = await cache.fill('img', slowSource(data));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const reading = collect(outcome.fill.read()).catch((error: unknown) => error);
    await cache.close();
    expect(await reading).toMatchObject({ code: 'ERR_IMGCACHE_CLOSED' });
  });

  it('a reader whose own signal aborts gets ERR_IMGCACHE_ABORTED', async () => {
    const cache = await openCache();
    const data = bytes(512 * 1024, 22);
    const outcome = await cache.fill('img', slowSource(data));
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    const stop = new AbortController();
    const reading = collect(outcome.fill.read({ signal: stop.signal })).catch((error: unknown) => error);
    stop.abort(new Error('client went away'));
    expect(await reading).toMatchObject({ code: 'ERR_IMGCACHE_ABORTED' });
  });

  it('following a fill whose start was declined gets ERR_IMGCACHE_FILL_UNAVAILABLE', async () => {
    const cache = await openCache();
    let entered!: () => void;
    const inStart = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const leading = cache.fill('img', async (): Promise<FillStartResult<string>> => {
      entered();
      await gate;
      return { decline: 'the origin refused' };
    });
    await inStart;
    const following = cache.followFill('img');
    if (!following) throw new Error('no fill to follow while its start runs');
    const reading = collect(following).catch((error: unknown) => error);
    release();
    expect(await leading).toMatchObject({ kind: 'declined' });
    expect(await reading).toMatchObject({ code: 'ERR_IMGCACHE_FILL_UNAVAILABLE' });
  });
});
