import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originGate } from '@imgcache/test-origin';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

describe('transparent proxy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('adds the cache API versions to the origin version document', async () => {
    const response = await send(h.url('/versions'), {
      headers: { 'x-auth-token': 't', 'content-type': 'application/octet-stream' },
    });
    expect(response.status).toBe(200);
    const document = JSON.parse(response.body.toString());
    const ids = document.versions.map((entry: { id: string }) => entry.id);
    expect(ids).toContain('v2.9');
    const cacheVersion = document.versions.find((entry: { id: string }) => entry.id === 'v2.14');
    expect(cacheVersion.status).toBe('SUPPORTED');
    expect(Number(response.headers['content-length'])).toBe(response.body.length);
    expect(h.origin.seen.at(-1)?.url).toBe('/versions');
  });

  it('streams a chunked upload of unknown length through untouched', async () => {
    const upload = randomImage(3 * 1024 * 1024 + 17);
    const chunks = Array.from({ length: Math.ceil(upload.length / 100_000) }, (_, index) =>
      upload.subarray(index * 100_000, (index + 1) * 100_000),
    );
    const response = await send(h.url('/v2/images/new-image/file'), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'x-auth-token': 'uploader' },
      body: Readable.from(chunks),
    });
    expect(response.status).toBe(204);
    const recorded = h.origin.uploads.at(-1)!;
    expect(recorded.imageId).toBe('new-image');
    expect(recorded.length).toBe(upload.length);
    expect(recorded.sha256).toBe(createHash('sha256').update(upload).digest('hex'));
    expect(recorded.headers['transfer-encoding']).toBe('chunked');
    expect(recorded.headers['content-length']).toBeUndefined();
    expect(recorded.headers['content-type']).toBe('application/octet-stream');
    expect(recorded.headers['x-auth-token']).toBe('uploader');
  });

  it("passes query strings and credentials through; the origin gets its own Host and the client's as X-Forwarded-Host for its links", async () => {
    const response = await send(h.url('/v2/images?limit=5&sort_key=name'), {
      headers: { authorization: 'Bearer abc' },
    });
    expect(response.status).toBe(200);
    const seen = h.origin.seen.at(-1)!;
    expect(seen.url).toBe('/v2/images?limit=5&sort_key=name');
    expect(seen.headers.authorization).toBe('Bearer abc');
    expect(seen.headers.host).toBe(new URL(h.origin.url).host);
    expect(seen.headers['x-forwarded-host']).toBe(new URL(h.server.url).host);
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    // A Glance that parses proxy headers builds its links from X-Forwarded-Host: they point back here.
    expect(JSON.parse(response.body.toString()).first).toBe(`http://${new URL(h.server.url).host}/v2/images`);
  });

  it('relays image metadata and origin errors unchanged', async () => {
    h.origin.add('meta-img', { data: randomImage(1000) });
    const metadata = await send(h.url('/v2/images/meta-img'));
    expect(metadata.status).toBe(200);
    expect(JSON.parse(metadata.body.toString())).toMatchObject({ id: 'meta-img', size: 1000 });
    const missing = await send(h.url('/v2/images/not-there'));
    expect(missing.status).toBe(404);
  });

  it('drops the cached copy and the queue entry when an image is deleted through it', async () => {
    h.origin.add('doomed', { data: randomImage(5000) });
    await send(h.url('/v2/images/doomed/file'));
    expect(await h.server.cache.isCached('doomed')).toBe(true);
    await h.server.prefetcher.stop();
    h.origin.add('doomed-queued', { data: randomImage(10) });
    await h.server.cache.queueImage('doomed-queued');
    expect((await send(h.url('/v2/images/doomed'), { method: 'DELETE' })).status).toBe(204);
    expect((await send(h.url('/v2/images/doomed-queued'), { method: 'DELETE' })).status).toBe(204);
    expect(await h.server.cache.isCached('doomed')).toBe(false);
    expect(await h.server.cache.getQueuedImages()).toEqual([]);
  });

  it('cancels a running fill when the image is deleted through it, so it is not re-cached', async () => {
    const { spec: gate, release, arrived } = originGate(256 * 1024);
    h.origin.add('deleted-mid-fill', {
      data: randomImage(1024 * 1024),
      gate,
    });
    const client = send(h.url('/v2/images/deleted-mid-fill/file')).then(
      (response) => response.status,
      () => 'aborted',
    );
    await arrived;
    await waitFor(() => h.server.cache.isBeingCachedHere('deleted-mid-fill'));
    expect((await send(h.url('/v2/images/deleted-mid-fill'), { method: 'DELETE' })).status).toBe(204);
    release();
    // The download already under way completes (the origin is sending it); nothing is cached.
    expect(await client).toBe(200);
    expect(await h.server.cache.isCached('deleted-mid-fill')).toBe(false);
  });

  it('keeps the cached copy when the origin refuses the delete', async () => {
    h.origin.add('kept', { data: randomImage(5000), allowedTokens: ['owner'] });
    await send(h.url('/v2/images/kept/file'), { headers: { 'x-auth-token': 'owner' } });
    expect(
      (await send(h.url('/v2/images/kept'), { method: 'DELETE', headers: { 'x-auth-token': 'intruder' } })).status,
    ).toBe(403);
    expect(await h.server.cache.isCached('kept')).toBe(true);
  });
});
