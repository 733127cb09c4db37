import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originGate } from '@imgcache/test-origin';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { download, send, type ClientResponse } from './helpers/http-client.js';

/** RFC 9110 §14.2: Range applies to GET only; a HEAD is answered as a GET without Range would be. */
function expectWholeImageHead(response: ClientResponse, size: number, xCache: string): void {
  expect(response.status).toBe(200);
  expect(Number(response.headers['content-length'])).toBe(size);
  expect(response.headers['content-range']).toBeUndefined();
  expect(response.headers['x-cache']).toBe(xCache);
  expect(response.body.length).toBe(0);
}

describe('HEAD with Range', () => {
  let h: Harness;
  const data = randomImage(10);
  const head = (imageId: string, range: string) =>
    send(h.url(`/v2/images/${imageId}/file`), { method: 'HEAD', headers: { range } });

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('is answered 200 with the whole length on a hit, for a satisfiable and an unsatisfiable range', async () => {
    h.origin.add('cached', { data });
    expect((await send(h.url('/v2/images/cached/file'))).status).toBe(200);
    expectWholeImageHead(await head('cached', 'bytes=2-4'), 10, 'HIT');
    expectWholeImageHead(await head('cached', 'bytes=20-24'), 10, 'HIT');
  });

  it('is answered 200 with the whole length from a fill in progress', async () => {
    const { spec: gate, release, arrived } = originGate(5);
    h.origin.add('filling', { data, chunkSize: 5, gate });
    let streaming!: () => void;
    const firstByte = new Promise<void>((resolve) => (streaming = resolve));
    const leader = download(h.url('/v2/images/filling/file'), { onFirstByte: () => streaming() });
    await arrived;
    await firstByte;
    expectWholeImageHead(await head('filling', 'bytes=2-4'), 10, 'COALESCED');
    expectWholeImageHead(await head('filling', 'bytes=20-24'), 10, 'COALESCED');
    release();
    expect((await leader).length).toBe(10);
  });

  it('is passed to the origin without Range on a miss, so no 206 or 416 comes back', async () => {
    h.origin.add('uncached', { data });
    const before = h.origin.seen.length;
    expectWholeImageHead(await head('uncached', 'bytes=2-4'), 10, 'MISS');
    expectWholeImageHead(await head('uncached', 'bytes=20-24'), 10, 'MISS');
    const heads = h.origin.seen.slice(before).filter((seen) => seen.method === 'HEAD');
    expect(heads).toHaveLength(2);
    for (const seen of heads) {
      expect(seen.headers.range).toBeUndefined();
      expect(seen.headers['if-range']).toBeUndefined();
    }
    expect(h.origin.count(h.origin.dataRequests, 'uncached')).toBe(0);
  });
});
