import { afterEach, describe, expect, it } from 'vitest';
import { originGate } from '@imgcache/test-origin';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { download, send, sha256 } from './helpers/http-client.js';

const KiB = 1024;

async function bypassCount(h: Harness, reason: string): Promise<number> {
  const text = (await send(h.url('/metrics'))).body.toString();
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith(`imgcache_bypassed_total{reason="${reason}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('admission', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('proxies an image larger than the budget without caching it, and counts it', async () => {
    h = await startHarness({ maxSize: 100 * KiB });
    const data = randomImage(200 * KiB);
    h.origin.add('huge', { data });
    const response = await send(h.url('/v2/images/huge/file'));
    expect(response.status).toBe(200);
    expect(response.headers['x-cache']).toBe('BYPASS');
    expect(response.body.equals(data)).toBe(true);
    expect(await h.server.cache.isCached('huge')).toBe(false);
    expect(await bypassCount(h, 'budget')).toBe(1);
  });

  it('counts fills in progress against the budget', async () => {
    h = await startHarness({ maxSize: 1024 * KiB });
    const first = randomImage(700 * KiB);
    const { spec: gate, release, arrived } = originGate(128 * KiB);
    h.origin.add('in-flight', { data: first, gate });
    h.origin.add('second', { data: randomImage(700 * KiB) });
    const filling = download(h.url('/v2/images/in-flight/file'));
    await arrived;
    await waitFor(() => h!.server.cache.isBeingCachedHere('in-flight'));
    const second = await send(h.url('/v2/images/second/file'));
    expect(second.headers['x-cache']).toBe('BYPASS');
    expect(await bypassCount(h, 'budget')).toBe(1);
    release();
    expect((await filling).sha256).toBe(sha256(first));
    await waitFor(() => h!.server.cache.isCached('in-flight'));
    expect(await h.server.cache.isCached('second')).toBe(false);
  });

  it('prunes least recently used images to admit a new one', async () => {
    h = await startHarness({ maxSize: 1024 * KiB });
    h.origin.add('old', { data: randomImage(700 * KiB) });
    h.origin.add('new', { data: randomImage(700 * KiB) });
    await send(h.url('/v2/images/old/file'));
    expect(await h.server.cache.isCached('old')).toBe(true);
    const response = await send(h.url('/v2/images/new/file'));
    expect(response.headers['x-cache']).toBe('MISS');
    expect(await h.server.cache.isCached('new')).toBe(true);
    expect(await h.server.cache.isCached('old')).toBe(false);
    const metrics = (await send(h.url('/metrics'))).body.toString();
    expect(metrics).toMatch(/^imgcache_evictions_total 1$/m);
  });

  it('refuses to cache when the free-disk floor would be crossed', async () => {
    h = await startHarness({ minFree: { percent: 100 } });
    const data = randomImage(10 * KiB);
    h.origin.add('no-room', { data });
    const response = await send(h.url('/v2/images/no-room/file'));
    expect(response.headers['x-cache']).toBe('BYPASS');
    expect(response.body.equals(data)).toBe(true);
    expect(await h.server.cache.isCached('no-room')).toBe(false);
    expect(await bypassCount(h, 'min_free')).toBe(1);
  });
});
