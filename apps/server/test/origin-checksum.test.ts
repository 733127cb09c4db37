import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, randomImage, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

/** A plain HTTP store that answers every image with these bytes and this Content-MD5. */
async function storeWith(
  data: Buffer,
  contentMd5: string,
): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((_request, response) => {
    requests++;
    response.writeHead(200, { 'content-length': data.length, 'content-md5': contentMd5 }).end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob/{id}`,
    requests: () => requests,
  };
}

describe('an origin that announces a Content-MD5 nobody can read', () => {
  let h: Harness | undefined;
  let store: Server | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    store?.closeAllConnections();
    await new Promise<void>((resolve) => (store ? store.close(() => resolve()) : resolve()));
    store = undefined;
  });

  it.each([
    ['garbage'],
    ['0123456789abcdef0123456789abcde'],
    [createHash('md5').update('x').digest('base64').replace('==', '=')],
  ])('%j: answered 502 and never cached unverified, as the CLI prefetch refuses it', async (contentMd5) => {
    const data = randomImage(64 * 1024);
    const origin = await storeWith(data, contentMd5);
    store = origin.server;
    h = await startHarness({ origin: origin.url, public: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await send(h.url('/v2/images/unverifiable/file'));
      expect(response.status).toBe(502);
      expect(response.body.toString()).toContain('Content-MD5');
    }
    // Each request went to the origin again: nothing was cached.
    expect(origin.requests()).toBe(2);
  });

  it('a readable one still verifies and caches', async () => {
    const data = randomImage(64 * 1024);
    const origin = await storeWith(data, createHash('md5').update(data).digest('base64'));
    store = origin.server;
    h = await startHarness({ origin: origin.url, public: true });
    expect((await send(h.url('/v2/images/fine/file'))).headers['x-cache']).toBe('MISS');
    expect((await send(h.url('/v2/images/fine/file'))).headers['x-cache']).toBe('HIT');
  });
});
