import { truncate, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { ImageCache, silentLogger } from '@imgcache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send, sha256 } from './helpers/http-client.js';

/** A GET with `Connection: close` that hangs up the moment the last body byte arrived. */
function getAndHangUp(url: string): Promise<number> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    let head = '';
    let expected = -1;
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      if (expected < 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        expected = Number(/content-length: (\d+)/i.exec(head.slice(0, end))?.[1] ?? 0);
        received = head.length - end - 4;
      } else {
        received += chunk.byteLength;
      }
      if (received >= expected) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
  });
}

describe('hits: accounting and files changed behind the server', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ public: true });
  });
  afterAll(() => h.stop());

  it('counts a hit once the whole body was sent, even when the client hangs up at once', async () => {
    const data = randomImage(8 * 1024 * 1024);
    h.origin.add('counted', { data });
    expect((await send(h.url('/v2/images/counted/file'))).status).toBe(200);
    const before = (await h.server.cache.getCachedImage('counted'))!;
    for (let i = 0; i < 10; i++) expect(await getAndHangUp(h.url('/v2/images/counted/file'))).toBe(data.length);
    const after = (await h.server.cache.getCachedImage('counted'))!;
    expect(after.hits).toBe(10);
    expect(after.lastAccessed.getTime()).toBeGreaterThan(before.lastAccessed.getTime());
  });

  it('a cached file another process deleted is fetched again, never a 502', async () => {
    const data = randomImage(300 * 1024);
    h.origin.add('vanishing', { data });
    await send(h.url('/v2/images/vanishing/file'));
    expect((await send(h.url('/v2/images/vanishing/file'))).headers['x-cache']).toBe('HIT');
    await unlink(h.server.cache.layout.imagePath('vanishing'));
    const again = await send(h.url('/v2/images/vanishing/file'));
    expect(again.status).toBe(200);
    expect(again.headers['x-cache']).toBe('MISS');
    expect(again.body.equals(data)).toBe(true);
    expect(h.origin.count(h.origin.dataRequests, 'vanishing')).toBe(2);
  });

  it('an image another process replaced is served with its new bytes and validators', async () => {
    const first = randomImage(200 * 1024);
    h.origin.add('replaced', { data: first });
    await send(h.url('/v2/images/replaced/file'));
    const old = await send(h.url('/v2/images/replaced/file'));
    expect(old.body.equals(first)).toBe(true);
    // Another process (the CLI, a second server) deletes and re-caches it with other bytes of the same size.
    const other = await ImageCache.open({ dir: h.dir, logger: silentLogger });
    const second = randomImage(200 * 1024);
    await other.deleteCachedImage('replaced');
    expect(await other.cacheImageIter('replaced', [second])).toBe(true);
    await other.close();
    const fresh = await send(h.url('/v2/images/replaced/file'));
    expect(fresh.headers['x-cache']).toBe('HIT');
    expect(fresh.body.equals(second)).toBe(true);
    expect(fresh.headers.etag).toBe(`"sha256:${sha256(second)}"`);
  });

  it('a cached file cut short behind its back is never served with the wrong length', async () => {
    const data = randomImage(6 * 1024 * 1024);
    h.origin.add('truncated', { data });
    await send(h.url('/v2/images/truncated/file'));
    expect((await send(h.url('/v2/images/truncated/file'))).headers['x-cache']).toBe('HIT');
    await truncate(h.server.cache.layout.imagePath('truncated'), 100);
    const again = await send(h.url('/v2/images/truncated/file'));
    expect(again.status).toBe(200);
    expect(again.headers['x-cache']).toBe('MISS');
    expect(again.body.equals(data)).toBe(true);
  });
});
