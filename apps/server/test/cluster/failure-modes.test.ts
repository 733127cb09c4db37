import { TcpGate } from '@imgcache/cluster-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOrigin } from '@imgcache/test-origin';
import { randomImage } from '../helpers/harness.js';
import { download, send } from '../helpers/http-client.js';
import {
  sha256,
  admin,
  ADMIN,
  TestCluster,
  createDatabase,
  imagesCachedOn,
  until,
  metric,
  postgresMissing,
  type ClusterNodeProcess,
} from './helpers/cluster-harness.js';

const cachedHere = (node: ClusterNodeProcess) => imagesCachedOn(node, admin);

describe.skipIf(postgresMissing)('failure modes of a cluster of real server processes', () => {
  let origin: FakeOrigin;
  let cluster: TestCluster;
  let gate: TcpGate;
  let cut: ClusterNodeProcess;

  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    const databaseUrl = await createDatabase('failures');
    // One node reaches PostgreSQL through a relay the test can cut.
    gate = await TcpGate.start(Number(new URL(databaseUrl).port));
    const gated = new URL(databaseUrl);
    gated.port = String(gate.port);
    cluster = new TestCluster(databaseUrl, origin.url, ['--admin-token', ADMIN, '--cluster-copy', 'always']);
    await Promise.all([cluster.start(), cluster.start()]);
    cut = await cluster.start({ args: ['--cluster', gated.toString()] });
    await cluster.waitForRing(3);
  });
  afterAll(async () => {
    await cluster?.stop();
    await gate?.close();
    await origin?.stop();
  });

  it('keeps serving hits and misses through owners while PostgreSQL is unreachable, and resyncs purges when it returns', async () => {
    const images = Array.from({ length: 6 }, (_, index) => `down-${index}`);
    const data = new Map(images.map((id) => [id, randomImage(32 * 1024)]));
    for (const id of images) origin.add(id, { data: data.get(id)! });
    const held = images[0]!;
    expect((await download(`${cut.url}/v2/images/${held}/file`)).sha256).toBe(sha256(data.get(held)!));

    gate.cut();
    await until(
      () => metric(cut.url, 'imgcache_cluster_database_up'),
      (up) => up === 0,
    );
    // Hits, and misses placed on the last known ring (some owned by the other nodes).
    expect((await download(`${cut.url}/v2/images/${held}/file`)).headers['x-cache']).toBe('HIT');
    for (const id of images.slice(1))
      expect((await download(`${cut.url}/v2/images/${id}/file`)).sha256).toBe(sha256(data.get(id)!));
    for (const id of images) expect(origin.dataRequests.get(id)).toBe(1);
    expect(await metric(cut.url, 'imgcache_cluster_nodes{state="active"}')).toBe(3);

    // A delete while the database is away: done here at once, everywhere once it is back.
    const owner = cluster.ownerOf(held);
    if (owner !== cut) expect(await cachedHere(owner)).toContain(held);
    expect((await send(`${cut.url}/v2/cache/${held}`, { method: 'DELETE', headers: admin })).status).toBe(204);
    expect(await cachedHere(cut)).not.toContain(held);
    gate.reopen();
    await until(
      () => metric(cut.url, 'imgcache_cluster_database_up'),
      (up) => up === 1,
    );
    for (const node of cluster.nodes)
      await until(
        () => cachedHere(node),
        (ids) => !ids.includes(held),
      );
  });

  it('drains on SIGTERM: the node leaves every ring before it stops, and misses go to the remaining owners', async () => {
    const leaving = cluster.nodes.find((node) => node !== cut)!;
    const stays = cluster.nodes.filter((node) => node !== leaving);
    leaving.process.signal('SIGTERM');
    await leaving.process.waitForLog(
      (line) =>
        line.msg === 'cluster ring changed' && Array.isArray(line.ring) && (line.ring as unknown[]).length === 2,
    );
    const exit = await leaving.process.exited;
    expect(exit.code).toBe(0);
    await cluster.waitForRing(2, stays);
    // The row is gone, not merely dead: the others stop listing it at their next read.
    const listed = async () =>
      (
        JSON.parse((await send(`${stays[0]!.url}/v2/cache?scope=cluster`, { headers: admin })).body.toString()) as {
          nodes: { node_id: string }[];
        }
      ).nodes;
    const after = await until(listed, (nodes) => !nodes.some((node) => node.node_id === leaving.nodeId));
    expect(after.map((node) => node.node_id).sort()).toEqual(stays.map((node) => node.nodeId).sort());
    const data = randomImage(16 * 1024);
    origin.add('after-drain', { data });
    const responses = await Promise.all(stays.map((node) => download(`${node.url}/v2/images/after-drain/file`)));
    for (const response of responses) expect(response.sha256).toBe(sha256(data));
    expect(origin.dataRequests.get('after-drain')).toBe(1);
  });
});
