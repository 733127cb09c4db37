import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOrigin, originGate } from '@imgcache/test-origin';
import { randomImage } from '../helpers/harness.js';
import { download, send } from '../helpers/http-client.js';
import { sha256, TestCluster, createDatabase, metric, postgresMissing } from './helpers/cluster-harness.js';

describe.skipIf(postgresMissing)('peer fetch in a cluster of 4 real server processes', () => {
  let origin: FakeOrigin;
  let cluster: TestCluster;

  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    cluster = new TestCluster(await createDatabase('peer_fetch'), origin.url);
    await Promise.all([cluster.start(), cluster.start(), cluster.start(), cluster.start()]);
    await cluster.waitForRing(4);
  });
  afterAll(async () => {
    await cluster?.stop();
    await origin?.stop();
  });

  it('fetches an uncached image from the origin once for concurrent requests spread over every node, every body correct', async () => {
    // Slow enough that the requests overlap the one fill; the count holds whatever the timing.
    const data = randomImage(1024 * 1024);
    origin.add('spread', { data, chunkSize: 64 * 1024, chunkDelayMs: 10 });
    const requests = Array.from({ length: 24 }, (_, index) =>
      download(`${cluster.nodes[index % 4]!.url}/v2/images/spread/file`),
    );
    const responses = await Promise.all(requests);
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.length).toBe(data.length);
      expect(response.sha256).toBe(sha256(data));
    }
    expect(origin.dataRequests.get('spread')).toBe(1);
    // Non-owners asked the owner, not the origin.
    const owner = cluster.ownerOf('spread');
    for (const node of cluster.nodes) {
      if (node === owner) continue;
      expect(
        await metric(node.url, `imgcache_cluster_peer_fetches_total{peer="${owner.nodeId}",status="200"}`),
      ).toBeGreaterThan(0);
      expect((await metric(node.url, 'imgcache_origin_fetches_total{purpose="download"}')) ?? 0).toBe(0);
    }
  });

  it('serves an owner-cached image to another client only when the origin authorises that client, on the node it arrived at', async () => {
    const data = randomImage(64 * 1024);
    origin.add('private', { data, allowedTokens: ['good'] });
    const owner = cluster.ownerOf('private');
    const other = cluster.nodes.find((node) => node !== owner)!;
    const first = await download(`${owner.url}/v2/images/private/file`, { headers: { 'x-auth-token': 'good' } });
    expect(first.sha256).toBe(sha256(data));
    const refused = await send(`${other.url}/v2/images/private/file`, { headers: { 'x-auth-token': 'bad' } });
    expect(refused.status).toBe(403);
    expect(refused.body.toString()).not.toContain(data.subarray(0, 16).toString('hex'));
    const allowed = await download(`${other.url}/v2/images/private/file`, { headers: { 'x-auth-token': 'good' } });
    expect(allowed).toMatchObject({ status: 200, sha256: sha256(data) });
    expect(origin.dataRequests.get('private')).toBe(1);
  });

  it('refuses a peer request whose signature is wrong', async () => {
    origin.add('forged', { data: randomImage(1024) });
    const response = await send(`${cluster.nodes[0]!.url}/v2/images/forged/file`, {
      headers: { 'x-imgcache-peer': `node.${Math.floor(Date.now() / 1000)}.${'A'.repeat(43)}` },
    });
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body.toString())).toMatchObject({ error: { code: 401 } });
    expect(origin.dataRequests.get('forged')).toBeUndefined();
  });

  it('fetches once from the origin for nodes that cannot reach the owner: one holds the fill lease, the others stream from it', async () => {
    const data = randomImage(512 * 1024);
    origin.add('leased', { data, chunkSize: 32 * 1024, chunkDelayMs: 20 });
    const owner = cluster.ownerOf('leased');
    const others = cluster.running.filter((node) => node !== owner);
    await owner.process.kill();
    // Before the ring notices the death: every other node finds the owner unreachable.
    const responses = await Promise.all(others.map((node) => download(`${node.url}/v2/images/leased/file`)));
    for (const response of responses) expect(response).toMatchObject({ status: 200, sha256: sha256(data) });
    expect(origin.dataRequests.get('leased')).toBe(1);
    let joins = 0;
    for (const node of others) joins += (await metric(node.url, 'imgcache_cluster_lease_joins_total')) ?? 0;
    expect(joins).toBe(others.length - 1);
    await cluster.waitForRing(others.length);
  });

  it('fetches from the origin when the owner is down', async () => {
    const data = randomImage(256 * 1024);
    origin.add('orphan', { data });
    const owner = cluster.ownerOf('orphan');
    const other = cluster.running.find((node) => node !== owner)!;
    await owner.process.kill();
    // Before the ring has noticed: the owner's connection is refused, so the origin serves.
    const response = await download(`${other.url}/v2/images/orphan/file`);
    expect(response).toMatchObject({ status: 200, sha256: sha256(data) });
    expect(origin.dataRequests.get('orphan')).toBe(1);
    expect(
      await metric(other.url, 'imgcache_cluster_origin_fallbacks_total{reason="unreachable"}'),
    ).toBeGreaterThanOrEqual(1);
    // Then the ring drops it, and the other nodes agree on new owners.
    await cluster.waitForRing(cluster.running.length);
  });

  it('completes a client’s download from the origin, checksummed, when the owner dies in the middle of it', async () => {
    const data = randomImage(1024 * 1024);
    const { spec: gate, release, arrived: stopped } = originGate(256 * 1024);
    origin.add('cut-off', { data, gate });
    const owner = cluster.ownerOf('cut-off');
    const other = cluster.running.find((node) => node !== owner)!;
    let firstByte!: () => void;
    const receiving = new Promise<void>((resolve) => (firstByte = resolve));
    const pending = download(`${other.url}/v2/images/cut-off/file`, { onFirstByte: firstByte });
    await stopped;
    await receiving;
    await owner.process.kill();
    release();
    const response = await pending;
    expect(response).toMatchObject({ status: 200, length: data.length, sha256: sha256(data) });
    // The owner's whole fetch, then the rest from where the owner broke off.
    expect(origin.dataRequests.get('cut-off')).toBe(2);
    const ranged = origin.seen.filter(
      (request) => request.url.endsWith('/cut-off/file') && request.headers.range !== undefined,
    );
    expect(ranged).toHaveLength(1);
    expect(Number(/^bytes=(\d+)-$/.exec(String(ranged[0]!.headers.range))![1])).toBeGreaterThan(0);
    expect(await metric(other.url, 'imgcache_cluster_origin_fallbacks_total{reason="resumed"}')).toBe(1);
  });
});
