import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidImageId } from '@imgcache/core';
import type { ImageServer } from '@imgcache/server';
import type { FakeOrigin } from '@imgcache/test-origin';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { fixtureOrigin, tempDir } from './helpers.js';
import { openSocket, rawRequest, requestText } from './raw-http.js';
import { download, startQuietServer } from './server-process.js';

const ADMIN = 'hostile-admin';
const BIG_ID = 'big-32m';
const big = Buffer.alloc(32 * 1024 * 1024);
for (let offset = 0; offset < big.length; offset += 64)
  createHash('sha512').update(String(offset)).digest().copy(big, offset);

/** The id routes: the path before and after the id, and the methods that have a handler. */
const ROUTES = [
  { prefix: '/v2/images/', suffix: '/file', handled: ['GET', 'HEAD'] },
  { prefix: '/v2/cache/', suffix: '', handled: ['PUT', 'DELETE'] },
  { prefix: '/v2/cached_images/', suffix: '', handled: ['DELETE'] },
  { prefix: '/v2/queued_images/', suffix: '', handled: ['PUT', 'DELETE'] },
];
const METHODS = ['GET', 'HEAD', 'PUT', 'DELETE'];
const fragments = [
  '..',
  '../',
  '..\\',
  '%2e%2e%2f',
  '%2E%2E/',
  '%00',
  '\0',
  '/',
  '\\',
  'images',
  'incomplete',
  'invalid',
  'queue',
  'cache.sqlite',
  '.',
  '~',
  ' ',
  'é',
  '😀',
  '%',
  '%ZZ',
  '?',
  '#',
];
const hostileId = fc.oneof(
  fc.array(fc.constantFrom(...fragments), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 256, maxLength: 300 }),
  fc.constantFrom(
    'images',
    'incomplete',
    'cache.sqlite',
    'queue',
    '..',
    '.',
    'x'.repeat(256),
    '../../outside.txt',
    'ok-id',
  ),
);

/** Every path under `parent` outside the cache directory, to compare before and after. */
async function outsideSnapshot(parent: string): Promise<string[]> {
  return (await readdir(parent, { recursive: true }))
    .map(String)
    .filter((name) => name !== 'cache' && !name.startsWith('cache/'))
    .sort();
}

describe('hostile requests against the server', () => {
  let origin: FakeOrigin;
  let server: ImageServer;
  let parent: string;
  let dispose: () => Promise<void>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    ({ dir: parent, dispose } = await tempDir('hostile-server'));
    await writeFile(join(parent, 'outside.txt'), 'must not change');
    await mkdir(join(parent, 'etc'));
    await writeFile(join(parent, 'etc', 'passwd'), 'root:x:0:0');
    origin = await fixtureOrigin().start();
    origin.add(BIG_ID, { data: big });
    server = await startQuietServer({
      origin: origin.url,
      dir: join(parent, 'cache'),
      adminToken: ADMIN,
      maxSize: 1024 ** 3,
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await server?.close(2000);
    await origin?.stop();
    await dispose?.();
  });

  const alive = async () => {
    const health = await rawRequest(server.url, requestText('GET', '/healthz'));
    expect(health.status).toBe(200);
  };

  it('ids in every id route, encoded or raw, with every method: never a 5xx, invalid ids get a JSON 400, nothing outside the cache changes', async () => {
    const before = await outsideSnapshot(parent);
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        hostileId,
        fc.constantFrom(...ROUTES),
        fc.constantFrom(...METHODS),
        fc.boolean(),
        async (id, route, method, encoded) => {
          const target = `${route.prefix}${encoded ? encodeURIComponent(id) : id}${route.suffix}`;
          // A raw target can carry bytes no client would send (CR, LF, NUL): the server must cope anyway.
          const response = await rawRequest(
            server.url,
            Buffer.from(requestText(method, target, [['X-Auth-Token', ADMIN]]), 'utf8'),
          );
          expect(response.status, `${method} ${JSON.stringify(target)}: ${response.head}`).not.toBeNull();
          expect(response.status!, `${method} ${JSON.stringify(target)}: ${response.head}`).toBeLessThan(500);
          if (encoded && !isValidImageId(id) && route.handled.includes(method)) {
            expect(response.status, `${method} ${JSON.stringify(target)}`).toBe(400);
            if (method !== 'HEAD')
              expect(JSON.parse(response.body.toString('utf8'))).toMatchObject({
                error: { code: 400, message: expect.stringMatching(/Invalid image id/) },
              });
            rejected++;
          }
          // Past the HTTP parser (a request line of printable ASCII), every refusal is the server's own JSON error.
          if (response.status === 400 && /^[\x21-\x7e]+$/.test(target) && method !== 'HEAD') {
            expect(JSON.parse(response.body.toString('utf8')), `${method} ${JSON.stringify(target)}`).toMatchObject({
              error: { code: 400, message: expect.any(String) },
            });
          }
          expect(await outsideSnapshot(parent)).toEqual(before);
        },
      ),
      { numRuns: 250, seed: 20261125 },
    );
    expect(rejected).toBeGreaterThan(20);
    expect(await outsideSnapshot(parent)).toEqual(before);
    for (const name of await readdir(join(parent, 'cache'), { recursive: true })) {
      expect(String(name).split('/')).not.toContain('..');
    }
    await alive();
  });

  it('malformed Range headers on a cached image get 206, 200 or 416, never a 5xx', async () => {
    const id = 'range-target';
    const data = imageBytes(id) as Buffer;
    expect((await download(`${server.url}/v2/images/${id}/file`)).sha256).toBe(sha256(data));
    expect(await server.cache.isCached(id)).toBe(true);
    const rangeValue = fc.oneof(
      fc.string({ maxLength: 60 }).map((text) => text.replace(/[\r\n\0]/g, '')),
      fc
        .array(
          fc.constantFrom(
            'bytes',
            '=',
            '-',
            ',',
            ' ',
            '0',
            '1',
            '9',
            String(data.length),
            String(2 ** 53),
            '-1',
            'x',
            'BYTES',
            '1e3',
            '0x10',
          ),
          { maxLength: 8 },
        )
        .map((parts) => parts.join('')),
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(rangeValue, fc.boolean(), async (range, ifRange) => {
        const headers: [string, string][] = [['Range', range]];
        if (ifRange) headers.push(['If-Range', '"sha256:stale"']);
        const response = await rawRequest(server.url, requestText('GET', `/v2/images/${id}/file`, headers));
        // A 400 only for a header value HTTP forbids (control characters), refused by the parser.
        const allowed = /[^\t\x20-\x7e\x80-\uffff]/.test(range) ? [200, 206, 400, 416] : [200, 206, 416];
        expect(allowed, `Range ${JSON.stringify(range)}: ${response.head}`).toContain(response.status);
        statuses.add(response.status!);
        if (response.status === 200) expect(sha256(response.body)).toBe(sha256(data));
        if (response.status === 206) {
          const match = /content-range: bytes (\d+)-(\d+)\/(\d+)/i.exec(response.head);
          expect(match).not.toBeNull();
          expect(response.body.equals(data.subarray(Number(match![1]), Number(match![2]) + 1))).toBe(true);
        }
      }),
      { numRuns: 150, seed: 20261125 },
    );
    expect(statuses.has(200)).toBe(true);
    await alive();
  });

  it('a request with 2000 headers is refused with a 4xx or closed, and the server stays up', async () => {
    const headers = Array.from({ length: 2000 }, (_, n): [string, string] => [`X-Flood-${n}`, 'y'.repeat(20)]);
    const response = await rawRequest(server.url, requestText('GET', '/v2/images/flood/file', headers));
    if (response.status !== null) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    await alive();
  });

  it('a client sending its headers byte by byte does not block another client', async () => {
    const slow = await openSocket(server.url);
    sockets.push(slow);
    const received: Buffer[] = [];
    slow.on('data', (chunk) => received.push(chunk));
    const closed = new Promise((resolve) => slow.once('close', resolve));
    const text = requestText('GET', '/healthz');
    const half = Math.floor(text.length / 2);
    for (let n = 0; n < half; n++) {
      slow.write(text[n]!);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    // Meanwhile another client is served in full.
    const other = await download(`${server.url}/v2/images/other-client/file`);
    expect(other.status).toBe(200);
    expect(other.sha256).toBe(sha256(imageBytes('other-client')));
    for (let n = half; n < text.length; n++) {
      slow.write(text[n]!);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closed;
    expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
  });

  it('a client that stops reading a 32 MiB body does not block others, and gets every byte once it reads again', async () => {
    // Cached first, so the slow reader holds a hit open (a miss is covered by the crash matrix).
    expect((await download(`${server.url}/v2/images/${BIG_ID}/file`)).sha256).toBe(sha256(big));
    const slow = await openSocket(server.url);
    sockets.push(slow);
    const hash = createHash('sha256');
    let bytes = 0;
    let head = Buffer.alloc(0);
    let headDone = false;
    const firstData = new Promise<void>((resolve) => slow.once('data', () => resolve()));
    slow.on('data', (chunk: Buffer) => {
      if (!headDone) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headDone = true;
        chunk = head.subarray(end + 4);
      }
      hash.update(chunk);
      bytes += chunk.length;
    });
    const closed = new Promise((resolve) => slow.once('close', resolve));
    slow.write(requestText('GET', `/v2/images/${BIG_ID}/file`));
    await firstData;
    slow.pause();
    // While it is paused (its socket buffers full), other clients are served, misses and hits.
    for (const id of ['while-paused-1', 'while-paused-2', 'while-paused-1']) {
      const result = await download(`${server.url}/v2/images/${id}/file`);
      expect(result.status).toBe(200);
      expect(result.sha256).toBe(sha256(imageBytes(id)));
    }
    expect(bytes).toBeLessThan(big.length);
    slow.resume();
    await closed;
    expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    expect(bytes).toBe(big.length);
    expect(`sha256:${hash.digest('hex')}`).toBe(sha256(big));
    await alive();
  });
});
