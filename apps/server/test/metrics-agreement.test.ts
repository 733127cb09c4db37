import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOrigin, originGate } from '@imgcache/test-origin';
import { randomImage, startHarness, type Harness } from './helpers/harness.js';
import { download, send, type ClientResponse } from './helpers/http-client.js';

/** Every counter line of a scrape, by its full name with labels. */
async function scrape(h: Harness): Promise<Map<string, number>> {
  const text = (await send(h.url('/metrics'))).body.toString();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(imgcache_(?:requests|bypassed)_total\{[^}]*\}) (\S+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** What changed between two scrapes, zero deltas left out. */
function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [name, value] of after)
    if (value !== (before.get(name) ?? 0)) changed[name] = value - (before.get(name) ?? 0);
  return changed;
}

/** The requests_total line a response must have moved: its X-Cache, or error without one. */
function expectedResult(response: ClientResponse): string {
  const xCache = response.headers['x-cache'];
  return `imgcache_requests_total{result="${xCache === undefined ? 'error' : String(xCache).toLowerCase().replace(/-/g, '_')}"}`;
}

/**
 * Sends one request and checks that imgcache_requests_total moved by one, under the
 * X-Cache the client got, and that a BYPASS moved imgcache_bypassed_total under a reason.
 */
async function expectCountedAsSeen(
  h: Harness,
  path: string,
  options: Parameters<typeof send>[1] = {},
  expected: { xCache: string | undefined; status: number; reason?: string },
): Promise<void> {
  const before = await scrape(h);
  const response = await send(h.url(path), options);
  expect({ xCache: response.headers['x-cache'], status: response.status }).toEqual({
    xCache: expected.xCache,
    status: expected.status,
  });
  const changed = delta(before, await scrape(h));
  const bypass = expected.reason ? { [`imgcache_bypassed_total{reason="${expected.reason}"}`]: 1 } : {};
  expect(changed).toEqual({ [expectedResult(response)]: 1, ...bypass });
}

describe('/metrics agree with what clients saw (X-Cache)', () => {
  let h: Harness;
  let pass: Harness;
  beforeAll(async () => {
    const origin = await new FakeOrigin().start();
    h = await startHarness({ maxSize: 1024 * 1024 }, origin);
    pass = await startHarness({ rangeMiss: 'pass' }, origin);
    origin.add('image', { data: randomImage(20_000) });
    origin.add('head-miss', { data: randomImage(20_000) });
    origin.add('range-fill', { data: randomImage(20_000) });
    origin.add('range-pass', { data: randomImage(20_000) });
    origin.add('too-big', { data: randomImage(2 * 1024 * 1024) });
    origin.add('gzipped', { data: randomImage(10_000), gzip: true });
    origin.add('private', { data: randomImage(10_000), allowedTokens: ['good'] });
    origin.add('broken', { data: randomImage(10_000), status: 500 });
  });
  afterAll(async () => {
    await pass.stop();
    await h.stop();
    await h.origin.stop();
  });

  it('GET miss, then GET hit, HEAD hit and Range hit', async () => {
    await expectCountedAsSeen(h, '/v2/images/image/file', {}, { xCache: 'MISS', status: 200 });
    await expectCountedAsSeen(h, '/v2/images/image/file', {}, { xCache: 'HIT', status: 200 });
    await expectCountedAsSeen(h, '/v2/images/image/file', { method: 'HEAD' }, { xCache: 'HIT', status: 200 });
    await expectCountedAsSeen(
      h,
      '/v2/images/image/file',
      { headers: { range: 'bytes=0-9' } },
      { xCache: 'HIT', status: 206 },
    );
  });

  it('a HEAD miss passed through to the origin', async () => {
    await expectCountedAsSeen(h, '/v2/images/head-miss/file', { method: 'HEAD' }, { xCache: 'MISS', status: 200 });
  });

  it('a Range miss, answered from the fill it starts or passed through (--range-miss pass)', async () => {
    await expectCountedAsSeen(
      h,
      '/v2/images/range-fill/file',
      { headers: { range: 'bytes=0-9' } },
      { xCache: 'MISS', status: 206 },
    );
    await expectCountedAsSeen(
      pass,
      '/v2/images/range-pass/file',
      { headers: { range: 'bytes=0-9' } },
      { xCache: 'MISS', status: 206 },
    );
  });

  it('an origin error relayed on a miss counts as the miss its X-Cache says', async () => {
    await expectCountedAsSeen(h, '/v2/images/nowhere/file', {}, { xCache: 'MISS', status: 404 });
    await expectCountedAsSeen(h, '/v2/images/broken/file', {}, { xCache: 'MISS', status: 500 });
  });

  it('every bypass, with its reason', async () => {
    await expectCountedAsSeen(h, '/v2/images/too-big/file', {}, { xCache: 'BYPASS', status: 200, reason: 'budget' });
    await expectCountedAsSeen(
      h,
      '/v2/images/gzipped/file',
      { headers: { 'accept-encoding': 'gzip' } },
      { xCache: 'BYPASS', status: 200, reason: 'encoded' },
    );
  });

  it('answers without X-Cache count as errors: a refused hit, an invalid id', async () => {
    await send(h.url('/v2/images/private/file'), { headers: { 'x-auth-token': 'good' } });
    await expectCountedAsSeen(
      h,
      '/v2/images/private/file',
      { headers: { 'x-auth-token': 'bad' } },
      { xCache: undefined, status: 403 },
    );
    await expectCountedAsSeen(h, '/v2/images/bad%20id/file', {}, { xCache: undefined, status: 400 });
  });

  it('a client that joins a running fill', async () => {
    const data = randomImage(64 * 1024);
    const { spec: gate, release, arrived } = originGate(8192);
    h.origin.add('joined', { data, chunkSize: 8192, gate });
    let streaming!: () => void;
    const firstByte = new Promise<void>((resolve) => (streaming = resolve));
    const leader = download(h.url('/v2/images/joined/file'), { onFirstByte: () => streaming() });
    await arrived;
    await firstByte;
    const before = await scrape(h);
    const joiner = download(h.url('/v2/images/joined/file'));
    // The joiner's headers are written before the gate opens; wait for its count, then release.
    for (let attempt = 0; attempt < 500; attempt++) {
      if (
        (await scrape(h)).get('imgcache_requests_total{result="coalesced"}') !==
        before.get('imgcache_requests_total{result="coalesced"}')
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    release();
    expect((await joiner).headers['x-cache']).toBe('COALESCED');
    expect((await leader).headers['x-cache']).toBe('MISS');
    expect(delta(before, await scrape(h))).toEqual({ 'imgcache_requests_total{result="coalesced"}': 1 });
  });

  // Before: the JSON error bodies the origin sent for these counted as image bytes served.
  it('counts only image bytes in served_bytes{source="origin"}, not the origin error bodies it relays', async () => {
    const served = async () =>
      Number(
        /^imgcache_served_bytes_total\{source="origin"\} (\S+)$/m.exec(
          (await send(h.url('/metrics'))).body.toString(),
        )?.[1],
      );
    const before = await served();
    const missing = await send(h.url('/v2/images/no-such-image/file'));
    expect(missing.status).toBe(404);
    expect(missing.body.length).toBeGreaterThan(0);
    const broken = await send(h.url('/v2/images/broken/file'));
    expect(broken.status).toBe(500);
    const head = await send(h.url('/v2/images/no-such-image/file'), { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await served()).toBe(before);
    const image = await send(h.url('/v2/images/range-pass/file'), { headers: { range: 'bytes=0-99' } });
    expect(image.status).toBe(206);
    expect(await served()).toBe(before + 100);
  });
});
