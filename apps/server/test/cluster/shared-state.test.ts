import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOrigin } from '@imgcache/test-origin';
import { randomImage } from '../helpers/harness.js';
import { download, send } from '../helpers/http-client.js';
import { ServerProcess } from '../helpers/server-process.js';
import {
  sha256,
  admin,
  ADMIN,
  TestCluster,
  createDatabase,
  imagesCachedOn,
  until,
  postgresMissing,
  type ClusterNodeProcess,
} from './helpers/cluster-harness.js';

const holders = async (node: ClusterNodeProcess, imageId: string): Promise<string[]> => {
  const response = await send(`${node.url}/v2/cache/nodes/${imageId}`, { headers: admin });
  expect(response.status).toBe(200);
  return (JSON.parse(response.body.toString()) as { nodes: string[] }).nodes.sort();
};
const cachedHere = (node: ClusterNodeProcess) => imagesCachedOn(node, admin);

describe.skipIf(postgresMissing)('shared state of a cluster of 3 real server processes', () => {
  let origin: FakeOrigin;
  let cluster: TestCluster;
  let databaseUrl: string;
  let adoptedDir: string;

  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    databaseUrl = await createDatabase('shared_state');
    // A cache filled by a single node before it joins the cluster.
    adoptedDir = await mkdtemp(join(tmpdir(), 'imgcache-adopted-'));
    origin.add('adopted', { data: randomImage(32 * 1024) });
    const single = await ServerProcess.start(['--origin', origin.url, '--dir', adoptedDir, '--min-free', '0']);
    expect((await download(`${single.url}/v2/images/adopted/file`)).status).toBe(200);
    single.signal('SIGTERM');
    await single.exited;
    cluster = new TestCluster(databaseUrl, origin.url, ['--admin-token', ADMIN, '--cluster-copy', 'always']);
    await Promise.all([cluster.start(), cluster.start(), cluster.start({ dir: adoptedDir })]);
    await cluster.waitForRing(3);
  });
  afterAll(async () => {
    await cluster?.stop();
    await origin?.stop();
    await rm(adoptedDir, { recursive: true, force: true });
  });

  it('adopts the cache a node had before it joined', async () => {
    const adopter = cluster.nodes.find((node) => node.dir === adoptedDir)!;
    expect(
      await until(
        () => holders(cluster.nodes[0]!, 'adopted'),
        (urls) => urls.length === 1,
      ),
    ).toEqual([adopter.url]);
  });

  it('lists the nodes that hold an image on every node, and shows the whole cluster with scope=cluster', async () => {
    const data = randomImage(128 * 1024);
    origin.add('shown', { data });
    const owner = cluster.ownerOf('shown');
    const other = cluster.nodes.find((node) => node !== owner)!;
    // Through a non-owner that keeps copies (--cluster-copy always): two holders.
    expect((await download(`${other.url}/v2/images/shown/file`)).sha256).toBe(sha256(data));
    const expected = [owner.url, other.url].sort();
    for (const node of cluster.nodes)
      expect(
        await until(
          () => holders(node, 'shown'),
          (urls) => urls.length === 2,
        ),
      ).toEqual(expected);
    expect(origin.dataRequests.get('shown')).toBe(1);

    const view = JSON.parse((await send(`${owner.url}/v2/cache?scope=cluster`, { headers: admin })).body.toString());
    expect(view.database.connected).toBe(true);
    expect(view.nodes.map((node: { url: string }) => node.url).sort()).toEqual(
      cluster.nodes.map((node) => node.url).sort(),
    );
    for (const node of view.nodes) expect(node).toMatchObject({ state: 'active', on_ring: true });
    const ownerRow = view.nodes.find((node: { node_id: string }) => node.node_id === owner.nodeId);
    expect(ownerRow.cached_images).toBeGreaterThanOrEqual(1);
    // Without the scope, the per-node listing Glance clients expect.
    expect(
      Object.keys(JSON.parse((await send(`${owner.url}/v2/cache`, { headers: admin })).body.toString())).sort(),
    ).toEqual(['cached_images', 'queued_images']);
  });

  it('shows every node and its health on the dashboard', async () => {
    const node = cluster.nodes[0]!;
    const login = await send(`${node.url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(new URLSearchParams({ token: ADMIN }).toString()),
    });
    expect(login.status).toBe(303);
    const cookie = String(login.headers['set-cookie']?.[0]).split(';')[0]!;
    const status = JSON.parse(
      (await send(`${node.url}/dashboard/api/status`, { headers: { cookie } })).body.toString(),
    );
    expect(status.cluster.database.connected).toBe(true);
    expect(status.cluster.node_id).toBe(node.nodeId);
    expect(status.cluster.nodes.map((row: { url: string }) => row.url).sort()).toEqual(
      cluster.nodes.map((running) => running.url).sort(),
    );
    for (const row of status.cluster.nodes) expect(row).toMatchObject({ state: 'active', on_ring: true });
  });

  it('needs the admin token for the holders of an image', async () => {
    expect((await send(`${cluster.nodes[0]!.url}/v2/cache/nodes/shown`)).status).toBe(401);
    expect((await send(`${cluster.nodes[0]!.url}/v2/cache/nodes/bad!id`, { headers: admin })).status).toBe(400);
  });

  it('purges an image on every node when any node is asked to delete it, including a node that was down meanwhile', async () => {
    const data = randomImage(64 * 1024);
    origin.add('purged', { data });
    const owner = cluster.ownerOf('purged');
    const others = cluster.nodes.filter((node) => node !== owner);
    // Every node holds it (the owner, and two non-owners keeping copies).
    for (const node of others) expect((await download(`${node.url}/v2/images/purged/file`)).sha256).toBe(sha256(data));
    await until(
      () => holders(owner, 'purged'),
      (urls) => urls.length === 3,
    );
    // One holder goes down (it stays in the table until it is declared dead) and misses the purge.
    const away = others[1]!;
    await away.process.kill();
    expect((await send(`${others[0]!.url}/v2/cache/purged`, { method: 'DELETE', headers: admin })).status).toBe(204);
    for (const node of [owner, others[0]!])
      await until(
        () => cachedHere(node),
        (ids) => !ids.includes('purged'),
      );
    // Back on the same directory (same node id): it replays the log from where it stopped.
    const back = await cluster.start({ dir: away.dir });
    expect(back.nodeId).toBe(away.nodeId);
    await until(
      () => cachedHere(back),
      (ids) => !ids.includes('purged'),
    );
    await until(
      () => holders(owner, 'purged'),
      (urls) => urls.length === 0,
    );
    // The next request is a miss again, fetched once more from the origin.
    expect((await download(`${owner.url}/v2/images/purged/file`)).sha256).toBe(sha256(data));
    expect(origin.dataRequests.get('purged')).toBe(2);
  });

  it('queues an image for its owner when any node is asked to cache it', async () => {
    const data = randomImage(48 * 1024);
    origin.add('queued', { data });
    const owner = cluster.ownerOf('queued');
    const other = cluster.nodes.find((node) => node !== owner && node.process.running)!;
    expect((await send(`${other.url}/v2/cache/queued`, { method: 'PUT', headers: admin })).status).toBe(202);
    await until(
      () => cachedHere(owner),
      (ids) => ids.includes('queued'),
    );
    expect(await cachedHere(other)).not.toContain('queued');
    expect(origin.dataRequests.get('queued')).toBe(1);
    expect((await download(`${owner.url}/v2/images/queued/file`)).headers['x-cache']).toBe('HIT');
  });
});
