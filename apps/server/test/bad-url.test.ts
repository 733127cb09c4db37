import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

describe('request paths the router refuses', () => {
  let h: Harness;
  const admin = { 'x-auth-token': 'admin' };

  beforeAll(async () => {
    h = await startHarness({ adminToken: 'admin' });
  });
  afterAll(() => h.stop());

  it('a malformed percent-escape gets a 400 in the server error shape, on every id route', async () => {
    for (const [method, path] of [
      ['GET', '/v2/images/%ZZ/file'],
      ['GET', '/v2/images/%E0%A4%A/file'],
      ['DELETE', '/v2/cache/%ZZ'],
      ['DELETE', '/v2/cached_images/%E0%A4%A'],
      ['PUT', '/v2/queued_images/%'],
    ] as const) {
      const response = await send(h.url(path), { method, headers: admin });
      expect(response.status, `${method} ${path}`).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(response.body.toString())).toEqual({
        error: { code: 400, message: expect.stringMatching(/^Invalid request path: /) },
      });
    }
    expect(h.origin.seen).toEqual([]);
  });

  it('an over-long id reaches its route and is refused as invalid, without asking the origin', async () => {
    for (const [method, path] of [
      ['GET', `/v2/images/${'a'.repeat(1100)}/file`],
      ['HEAD', `/v2/images/${'%41'.repeat(2000)}/file`],
      ['DELETE', `/v2/cache/${'b'.repeat(5000)}`],
    ] as const) {
      const response = await send(h.url(path), { method, headers: admin });
      expect(response.status, `${method} ${path.slice(0, 40)}`).toBe(400);
      if (method !== 'HEAD')
        expect(JSON.parse(response.body.toString())).toEqual({
          error: { code: 400, message: expect.stringMatching(/^Invalid image id/) },
        });
    }
    expect(h.origin.seen).toEqual([]);
  });
});
