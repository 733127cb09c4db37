import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { download, send, sha256 } from './helpers/http-client.js';

const good = { 'x-auth-token': 'good' };
const bad = { 'x-auth-token': 'bad' };

describe('authorisation of cache hits', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('serves a hit only to clients the origin authorises, and never sends the cached bytes to others', async () => {
    h = await startHarness();
    const data = randomImage(40_000);
    h.origin.add('private', { data, allowedTokens: ['good'] });
    const miss = await send(h.url('/v2/images/private/file'), { headers: good });
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(await h.server.cache.isCached('private')).toBe(true);

    const refused = await send(h.url('/v2/images/private/file'), { headers: bad });
    expect(refused.status).toBe(403);
    expect(refused.headers['x-cache']).toBeUndefined();
    expect(refused.body.length).toBeLessThan(1000);
    expect(JSON.parse(refused.body.toString())).toEqual({ message: 'forbidden' });

    const anonymous = await send(h.url('/v2/images/private/file'));
    expect(anonymous.status).toBe(403);

    const head = await send(h.url('/v2/images/private/file'), { method: 'HEAD', headers: bad });
    expect(head.status).toBe(403);
  });

  it('remembers a positive decision for --auth-ttl (the miss itself counts as one)', async () => {
    h = await startHarness({ authTtl: 60 });
    h.origin.add('remembered', { data: randomImage(10_000), allowedTokens: ['good'] });
    await send(h.url('/v2/images/remembered/file'), { headers: good });
    const afterMiss = h.origin.count(h.origin.metadataRequests, 'remembered');
    for (let index = 0; index < 3; index++) {
      expect((await send(h.url('/v2/images/remembered/file'), { headers: good })).headers['x-cache']).toBe('HIT');
    }
    expect(h.origin.count(h.origin.metadataRequests, 'remembered')).toBe(afterMiss);
  });

  it('asks the origin on every hit when --auth-ttl is 0', async () => {
    h = await startHarness({ authTtl: 0 });
    h.origin.add('strict', { data: randomImage(10_000), allowedTokens: ['good'] });
    await send(h.url('/v2/images/strict/file'), { headers: good });
    const afterMiss = h.origin.count(h.origin.metadataRequests, 'strict');
    await send(h.url('/v2/images/strict/file'), { headers: good });
    await send(h.url('/v2/images/strict/file'), { headers: good });
    expect(h.origin.count(h.origin.metadataRequests, 'strict')).toBe(afterMiss + 2);
  });

  it('refuses a client that would join a running fill it may not read', async () => {
    h = await startHarness();
    const data = randomImage(1024 * 1024);
    let release!: () => void;
    let reached!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    h.origin.add('joined', {
      data,
      allowedTokens: ['good'],
      gate: { afterBytes: 256 * 1024, release: new Promise((resolve) => (release = resolve)), reached },
    });
    const owner = download(h.url('/v2/images/joined/file'), { headers: good });
    await arrived;
    const intruder = await send(h.url('/v2/images/joined/file'), { headers: bad });
    expect(intruder.status).toBe(403);
    release();
    expect((await owner).sha256).toBe(sha256(data));
  });

  it('serves hits without asking the origin when --public', async () => {
    h = await startHarness({ public: true });
    const data = randomImage(10_000);
    h.origin.add('open', { data });
    await send(h.url('/v2/images/open/file'));
    const metadataAfterMiss = h.origin.count(h.origin.metadataRequests, 'open');
    h.origin.images.get('open')!.allowedTokens = ['good'];
    const hit = await send(h.url('/v2/images/open/file'), { headers: bad });
    expect(hit.status).toBe(200);
    expect(hit.body.equals(data)).toBe(true);
    expect(h.origin.count(h.origin.metadataRequests, 'open')).toBe(metadataAfterMiss);
  });

  it('authorises hits with HEAD on the data URL for template origins', async () => {
    const glance = await startHarness();
    await glance.server.close();
    h = await startHarness({ origin: `${glance.origin.url}/v2/images/{id}/file` }, glance.origin);
    const data = randomImage(10_000);
    h.origin.add('tpl', { data, allowedTokens: ['good', 'also-good'] });
    try {
      const miss = await send(h.url('/v2/images/tpl/file'), { headers: good });
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(h.origin.count(h.origin.metadataRequests, 'tpl')).toBe(0);
      // The successful download authorised 'good' already; another client is asked for.
      const hit = await send(h.url('/v2/images/tpl/file'), { headers: { 'x-auth-token': 'also-good' } });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body.equals(data)).toBe(true);
      expect(h.origin.count(h.origin.headRequests, 'tpl')).toBe(1);
      expect((await send(h.url('/v2/images/tpl/file'), { headers: bad })).status).toBe(403);
    } finally {
      await glance.stop();
    }
  });

  describe('images the origin no longer serves', () => {
    const member = { 'x-auth-token': 'member' };
    const admin = { 'x-auth-token': 'glance-admin' };

    async function cachedThenChanged(imageId: string, imageStatus: string, authTtl = 0): Promise<Buffer> {
      h = await startHarness({ authTtl });
      h.origin.adminTokens.add('glance-admin');
      const data = randomImage(30_000);
      h.origin.add(imageId, { data });
      const miss = await send(h.url(`/v2/images/${imageId}/file`), { headers: member });
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(await h.server.cache.isCached(imageId)).toBe(true);
      h.origin.images.get(imageId)!.imageStatus = imageStatus;
      return data;
    }

    it('refuses a member a hit of an image deactivated after it was cached (403), and serves the admin', async () => {
      const data = await cachedThenChanged('deact', 'deactivated');
      // The metadata still answers 200 with "status": "deactivated".
      expect((await send(`${h!.origin.url}/v2/images/deact`, { headers: member })).status).toBe(200);
      const refused = await send(h!.url('/v2/images/deact/file'), { headers: member });
      expect(refused.status).toBe(403);
      expect(refused.headers['x-cache']).toBeUndefined();
      expect(refused.body.includes(data.subarray(0, 64))).toBe(false);
      expect(JSON.parse(refused.body.toString()).message).toMatch(/deactivated/);
      const head = await send(h!.url('/v2/images/deact/file'), { method: 'HEAD', headers: member });
      expect(head.status).toBe(403);
      const served = await send(h!.url('/v2/images/deact/file'), { headers: admin });
      expect(served.status).toBe(200);
      expect(served.headers['x-cache']).toBe('HIT');
      expect(served.body.equals(data)).toBe(true);
    });

    it.each([
      ['deleted', 404],
      ['pending_delete', 404],
      ['killed', 204],
      ['queued', 204],
      ['saving', 204],
      ['uploading', 204],
      ['importing', 204],
    ])(
      "refuses a hit of an image whose status became %s with Glance's data status %i, even to an admin",
      async (imageStatus, expected) => {
        const data = await cachedThenChanged(`st-${imageStatus}`, imageStatus);
        for (const headers of [member, admin]) {
          const refused = await send(h!.url(`/v2/images/st-${imageStatus}/file`), { headers });
          expect(refused.status).toBe(expected);
          expect(refused.headers['x-cache']).toBeUndefined();
          expect(refused.body.includes(data.subarray(0, 64))).toBe(false);
          if (expected === 204) expect(refused.body.length).toBe(0);
        }
        // Decided from the metadata alone: the data URL is not asked.
        expect(h!.origin.count(h!.origin.dataRequests, `st-${imageStatus}`)).toBe(1);
      },
    );

    it('does not remember metadata as an authorisation when the origin refused the data itself', async () => {
      h = await startHarness({ authTtl: 60 });
      h.origin.adminTokens.add('glance-admin');
      const data = randomImage(20_000);
      h.origin.add('deact-first', { data, imageStatus: 'deactivated' });
      expect((await send(h.url('/v2/images/deact-first/file'), { headers: member })).status).toBe(403);
      expect((await send(h.url('/v2/images/deact-first/file'), { headers: admin })).headers['x-cache']).toBe('MISS');
      expect(await h.server.cache.isCached('deact-first')).toBe(true);
      // Within --auth-ttl of the member's refused miss: still refused, never a hit.
      const again = await send(h.url('/v2/images/deact-first/file'), { headers: member });
      expect(again.status).toBe(403);
      expect(again.body.includes(data.subarray(0, 64))).toBe(false);
    });

    it('asks a template origin that refuses HEAD with a GET instead, and passes its refusal on', async () => {
      const glance = await startHarness();
      await glance.server.close();
      h = await startHarness({ origin: `${glance.origin.url}/v2/images/{id}/file`, authTtl: 0 }, glance.origin);
      try {
        h.origin.allowHead = false;
        const data = randomImage(10_000);
        h.origin.add('tpl-get', { data, allowedTokens: ['good'] });
        expect((await send(h.url('/v2/images/tpl-get/file'), { headers: good })).headers['x-cache']).toBe('MISS');
        const hit = await send(h.url('/v2/images/tpl-get/file'), { headers: good });
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.body.equals(data)).toBe(true);
        expect((await send(h.url('/v2/images/tpl-get/file'), { headers: bad })).status).toBe(403);
        h.origin.images.get('tpl-get')!.imageStatus = 'deactivated';
        expect((await send(h.url('/v2/images/tpl-get/file'), { headers: good })).status).toBe(403);
      } finally {
        await glance.stop();
      }
    });
  });
});
