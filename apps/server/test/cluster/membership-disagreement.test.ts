import { ownerOf } from '@imgcache/cluster-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOrigin } from '@imgcache/test-origin';
import { randomImage } from '../helpers/harness.js';
import { download } from '../helpers/http-client.js';
import {
  sha256,
  TestCluster,
  createDatabase,
  metric,
  postgresMissing,
  type ClusterNodeProcess,
} from './helpers/cluster-harness.js';

/** Nobody is declared dead during the test, whatever the heartbeats. */
const PATIENT = ['--cluster-dead-after', '180'];
const ringSize = (node: ClusterNodeProcess) => metric(node.url, 'imgcache_cluster_nodes{state="active"}');

describe.skipIf(postgresMissing)('two nodes that briefly disagree on membership', () => {
  let origin: FakeOrigin;
  let cluster: TestCluster;
  let early: ClusterNodeProcess;
  let behind: ClusterNodeProcess;
  let joined: ClusterNodeProcess;

  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    cluster = new TestCluster(await createDatabase('disagreement'), origin.url, PATIENT);
    early = await cluster.start();
    // Reads the membership once a minute: it will not see the next join during the test.
    behind = await cluster.start({ args: ['--cluster-heartbeat', '60'] });
    await cluster.waitForRing(2);
    joined = await cluster.start();
    await cluster.waitForRing(3, [early, joined]);
  });
  afterAll(async () => {
    await cluster?.stop();
    await origin?.stop();
  });

  it('costs at most a duplicate origin fetch, never wrong bytes', async () => {
    expect(await ringSize(behind)).toBe(2);
    // An image the two views place on different nodes: the up-to-date nodes on the newcomer, the one behind on the early node.
    const weigh = (nodes: ClusterNodeProcess[]) => nodes.map((node) => ({ nodeId: node.nodeId, weight: 1 }));
    const imageId = Array.from({ length: 1000 }, (_, index) => `split-${index}`).find(
      (id) =>
        ownerOf(id, weigh([early, behind, joined]))!.nodeId === joined.nodeId &&
        ownerOf(id, weigh([early, behind]))!.nodeId === early.nodeId,
    )!;
    expect(imageId).toBeDefined();
    const data = randomImage(512 * 1024);
    origin.add(imageId, { data, chunkSize: 32 * 1024, chunkDelayMs: 5 });
    // Every node at once: the one behind asks the early node, which (asked by a peer) fills
    // from the origin; the early node's own client goes to the newcomer, which fills too.
    const requests = [early, behind, joined, behind, early, joined].map((node) =>
      download(`${node.url}/v2/images/${imageId}/file`),
    );
    for (const response of await Promise.all(requests))
      expect(response).toMatchObject({ status: 200, length: data.length, sha256: sha256(data) });
    const fetches = origin.dataRequests.get(imageId) ?? 0;
    expect(fetches).toBeGreaterThanOrEqual(1);
    expect(fetches).toBeLessThanOrEqual(2);
    // The views really differed throughout.
    expect(await ringSize(behind)).toBe(2);
    expect(await ringSize(early)).toBe(3);
    // Later requests are hits or peer fetches of the same bytes, wherever they land.
    for (const node of cluster.nodes)
      expect(await download(`${node.url}/v2/images/${imageId}/file`)).toMatchObject({
        status: 200,
        sha256: sha256(data),
      });
    expect(origin.dataRequests.get(imageId)).toBe(fetches);
  });
});
