import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageCache, silentLogger } from '@imgcache/core';
import type { Member, Membership } from '@imgcache/cluster-postgres';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission.js';
import { Authorizer } from '../../src/authorizer.js';
import { ClusterMetrics } from '../../src/cluster/cluster-metrics.js';
import { CopyPolicy } from '../../src/cluster/copy-policy.js';
import { PEER_HEADER, verifyPeerRequest } from '../../src/cluster/peer-auth.js';
import { PeerFetcher } from '../../src/cluster/peer-fetch.js';
import { PeerRequests } from '../../src/cluster/peer-requests.js';
import { Origin } from '../../src/origin.js';

const SECRET = randomBytes(24).toString('hex');
const data = randomBytes(64 * 1024);
const other = randomBytes(64 * 1024);
const tag = (bytes: Buffer) => `"sha256:${createHash('sha256').update(bytes).digest('hex')}"`;

/**
 * A node that owns every image and answers as the test says: the owner's side is a real
 * HTTP server; only its answers are made up (a real owner never lies).
 */
let owner: Server;
let ownerUrl: string;
const seen: IncomingHttpHeaders[] = [];
let cache: ImageCache;
let dir: string;

beforeAll(async () => {
  owner = createServer((request, response) => {
    seen.push(request.headers);
    const id = /^\/v2\/images\/([^/]+)\/file$/.exec(request.url ?? '')?.[1];
    if (id === 'lying')
      response.writeHead(200, { 'content-length': data.length, etag: tag(other), 'x-cache': 'HIT' }).end(data);
    else if (id === 'honest')
      response.writeHead(200, { 'content-length': data.length, etag: tag(data), 'x-cache': 'HIT' }).end(data);
    else if (id === 'gone') response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"gone"}');
    else response.writeHead(503).end();
  });
  await new Promise<void>((resolve) => owner.listen(0, '127.0.0.1', resolve));
  ownerUrl = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'imgcache-peer-checks-'));
  cache = await ImageCache.open({ dir, logger: silentLogger });
});
afterAll(async () => {
  await cache.close();
  await new Promise((resolve) => owner.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function fetcher(copy: 'always' | 'never'): PeerFetcher {
  const member: Member = { nodeId: 'owner-node', url: ownerUrl, weight: 1, state: 'active', heartbeatAgeMs: 0 };
  const membership = { members: () => [member], ring: () => [member], connected: true } as unknown as Membership;
  return new PeerFetcher({
    cluster: { nodeId: 'this-node', ownerOf: () => member },
    secret: SECRET,
    peers: new PeerRequests(SECRET),
    authorizer: new Authorizer(new Origin('http://127.0.0.1:9/{id}'), { ttlSeconds: 60, staleSeconds: 0 }),
    origin: new Origin('http://127.0.0.1:9/{id}'),
    admission: new Admission(cache, 1024 ** 3, { bytes: 0 }, () => undefined),
    copies: new CopyPolicy(copy, 3),
    leaseMs: 1_000,
    isBeingCachedHere: () => false,
    metrics: new ClusterMetrics(new Registry(), membership),
    logger: silentLogger,
    public: true,
    timeouts: { connect: 2_000, headers: 2_000, idle: 2_000 },
  });
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('peer fetch checks', () => {
  it('signs the request for the owner and forwards the client credentials', async () => {
    const started = await fetcher('never').start('honest', { 'x-auth-token': 'client-token', host: 'lb:9393' });
    expect(started && 'decline' in started).toBe(true);
    const headers = seen.at(-1)!;
    expect(headers['x-auth-token']).toBe('client-token');
    expect(verifyPeerRequest(SECRET, String(headers[PEER_HEADER]), 'GET', '/v2/images/honest/file')).toBe('this-node');
    if (started && 'decline' in started) expect((await drain(started.decline.response.body)).equals(data)).toBe(true);
  });

  it('fails a relayed body that does not match the owner’s checksum, before its end', async () => {
    const started = await fetcher('never').start('lying', {});
    if (!started || !('decline' in started)) throw new Error('expected a relay');
    expect(started.decline.response.headers['x-cache']).toBeUndefined();
    await expect(drain(started.decline.response.body)).rejects.toMatchObject({
      code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH',
    });
  });

  it('caches nothing when a copied body does not match the owner’s checksum', async () => {
    const started = await fetcher('always').start('lying', {});
    if (!started || !('source' in started)) throw new Error('expected a source');
    expect(started.source).toMatchObject({
      size: data.length,
      checksum: [tag(other).slice(1, -1)],
      recordAlgorithm: 'sha256',
    });
    await expect(
      cache.cacheImageIter(
        'lying',
        started.source.body as AsyncIterable<Uint8Array>,
        (started.source.checksum as string[])[0],
      ),
    ).rejects.toMatchObject({
      code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH',
    });
    started.source.onSettled?.();
    expect(await cache.isCached('lying')).toBe(false);
  });

  it('relays the owner’s 4xx answer and falls back to the origin on a 5xx or an unreachable owner', async () => {
    const gone = await fetcher('always').start('gone', {});
    expect(gone && 'decline' in gone && gone.decline.response.statusCode).toBe(404);
    expect(await fetcher('always').start('broken', {})).toBeNull();
    await new Promise((resolve) => owner.close(resolve));
    expect(await fetcher('always').start('honest', {})).toBeNull();
    await new Promise<void>((resolve) => owner.listen(Number(new URL(ownerUrl).port), '127.0.0.1', resolve));
  });
});
