import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOrigin, originGate, type FakeImage } from '@imgcache/test-origin';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { download, send, type DigestResponse } from './helpers/http-client.js';

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const VALIDATORS = ['etag', 'last-modified', 'accept-ranges', 'content-md5', 'content-length'] as const;

/** An HTTP-date `seconds` away from `date`. */
function shifted(date: string, seconds: number): string {
  return new Date(Date.parse(date) + seconds * 1000).toUTCString();
}

/**
 * Downloads an image through a held fill: the leader (MISS), a client joining mid-way
 * (COALESCED), then a hit. `during` runs while the fill is held.
 */
async function missJoinHit(
  h: Harness,
  imageId: string,
  image: FakeImage,
  during?: () => Promise<void>,
): Promise<{ miss: DigestResponse; joined: DigestResponse; hit: DigestResponse }> {
  const held = originGate(64 * 1024);
  h.origin.add(imageId, { ...image, chunkSize: 16 * 1024, gate: held.spec });
  const url = h.url(`/v2/images/${imageId}/file`);
  let streaming!: () => void;
  const leaderStreaming = new Promise<void>((resolve) => (streaming = resolve));
  const miss = download(url, { onFirstByte: () => streaming() });
  await held.arrived;
  await leaderStreaming;
  let joinedStreaming!: () => void;
  const joinedFirstByte = new Promise<void>((resolve) => (joinedStreaming = resolve));
  const joined = download(url, { onFirstByte: () => joinedStreaming() });
  await joinedFirstByte;
  await during?.();
  held.release();
  const [missResult, joinedResult] = await Promise.all([miss, joined]);
  const hit = await download(url);
  return { miss: missResult, joined: joinedResult, hit };
}

describe('conditional requests on hits', () => {
  let h: Harness;
  const data = randomImage(100_000);
  const url = () => h.url('/v2/images/cond/file');
  let etag: string;
  let lastModified: string;

  beforeAll(async () => {
    h = await startHarness();
    h.origin.add('cond', { data });
    await send(url());
    const hit = await send(url());
    expect(hit.headers['x-cache']).toBe('HIT');
    etag = String(hit.headers.etag);
    lastModified = String(hit.headers['last-modified']);
  });
  afterAll(() => h.stop());

  it('answers If-Modified-Since with 304 when the image has not changed since, else 200', async () => {
    const same = await send(url(), { headers: { 'if-modified-since': lastModified } });
    expect(same.status).toBe(304);
    expect(same.headers.etag).toBe(etag);
    expect(same.headers['last-modified']).toBe(lastModified);
    expect(same.body.length).toBe(0);
    expect((await send(url(), { headers: { 'if-modified-since': shifted(lastModified, 3600) } })).status).toBe(304);
    const older = await send(url(), { headers: { 'if-modified-since': shifted(lastModified, -1) } });
    expect(older.status).toBe(200);
    expect(older.body.equals(data)).toBe(true);
    expect((await send(url(), { headers: { 'if-modified-since': 'not a date' } })).status).toBe(200);
  });

  it('lets If-None-Match win over If-Modified-Since (RFC 9110 §13.2.2)', async () => {
    const otherTag = await send(url(), { headers: { 'if-none-match': '"other"', 'if-modified-since': lastModified } });
    expect(otherTag.status).toBe(200);
    expect(otherTag.body.equals(data)).toBe(true);
    const sameTag = await send(url(), {
      headers: { 'if-none-match': etag, 'if-modified-since': shifted(lastModified, -86_400) },
    });
    expect(sameTag.status).toBe(304);
  });

  it('answers a false If-Match or If-Unmodified-Since with 412, If-Match winning', async () => {
    expect((await send(url(), { headers: { 'if-match': '"other"' } })).status).toBe(412);
    expect((await send(url(), { headers: { 'if-match': etag } })).status).toBe(200);
    expect((await send(url(), { headers: { 'if-match': '*' } })).status).toBe(200);
    expect((await send(url(), { headers: { 'if-unmodified-since': shifted(lastModified, -86_400) } })).status).toBe(
      412,
    );
    expect((await send(url(), { headers: { 'if-unmodified-since': lastModified } })).status).toBe(200);
    expect(
      (await send(url(), { headers: { 'if-match': etag, 'if-unmodified-since': shifted(lastModified, -86_400) } }))
        .status,
    ).toBe(200);
  });
});

describe('the same validators for the same bytes, hit or miss', () => {
  let h: Harness;
  afterAll(() => h?.stop());

  it('Glance origin: the miss, a client joining the fill mid-way and the hit send the same ETag, Last-Modified, Accept-Ranges and Content-MD5', async () => {
    h = await startHarness();
    const data = randomImage(512 * 1024);
    const { miss, joined, hit } = await missJoinHit(h, 'same', { data });
    expect([miss, joined, hit].map((response) => response.headers['x-cache'])).toEqual(['MISS', 'COALESCED', 'HIT']);
    expect(hit.headers.etag).toBe(`"md5:${md5(data)}"`);
    expect(hit.headers['content-md5']).toBe(md5(data));
    for (const name of VALIDATORS) {
      expect(miss.headers[name], name).toBe(hit.headers[name]);
      expect(joined.headers[name], name).toBe(hit.headers[name]);
    }
  });

  it('answers preconditions and If-Range on a fill in progress as the hit will', async () => {
    const data = randomImage(512 * 1024);
    const etag = `"md5:${md5(data)}"`;
    const url = h.url('/v2/images/held/file');
    let lastModified = '';
    await missJoinHit(h, 'held', { data }, async () => {
      const notModified = await send(url, { headers: { 'if-none-match': etag } });
      expect(notModified.status).toBe(304);
      expect(notModified.headers['x-cache']).toBe('COALESCED');
      lastModified = String(notModified.headers['last-modified']);
      expect((await send(url, { headers: { 'if-modified-since': lastModified } })).status).toBe(304);
      expect((await send(url, { headers: { 'if-match': '"other"' } })).status).toBe(412);
      const partial = await send(url, { headers: { range: 'bytes=0-99', 'if-range': etag } });
      expect(partial.status).toBe(206);
      expect(partial.body.equals(data.subarray(0, 100))).toBe(true);
    });
    const stale = await send(url, { headers: { range: 'bytes=0-99', 'if-range': '"stale"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(data)).toBe(true);
    const hit = await send(url, { headers: { 'if-modified-since': lastModified } });
    expect(hit.status).toBe(304);
    expect(hit.headers['x-cache']).toBe('HIT');
  });
});

describe('the same validators through a template origin', () => {
  let h: Harness;
  let origin: FakeOrigin;
  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    h = await startHarness({ origin: `${origin.url}/v2/images/{id}/file`, public: true }, origin);
  });
  afterAll(async () => {
    await h.stop();
    await origin.stop();
  });

  it('with a Content-MD5: the md5 is the ETag of the miss and of the hit', async () => {
    const data = randomImage(300 * 1024);
    const { miss, joined, hit } = await missJoinHit(h, 'with-md5', { data });
    expect(hit.headers.etag).toBe(`"md5:${md5(data)}"`);
    for (const name of VALIDATORS) {
      expect(miss.headers[name], name).toBe(hit.headers[name]);
      expect(joined.headers[name], name).toBe(hit.headers[name]);
    }
  });

  it('without any checksum: the miss sends the Last-Modified and Accept-Ranges of the hit, and no ETag it could not keep', async () => {
    const data = randomImage(300 * 1024);
    const { miss, hit } = await missJoinHit(h, 'no-md5', { data, contentMd5: false });
    expect(miss.headers.etag).toBeUndefined();
    expect(hit.headers.etag).toBe(`"sha256:${sha256(data)}"`);
    expect(miss.headers['last-modified']).toBe(hit.headers['last-modified']);
    expect(miss.headers['accept-ranges']).toBe('bytes');
    expect(hit.headers['accept-ranges']).toBe('bytes');
  });
});
