import { FakeOrigin } from '@imgcache/test-origin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe.skipIf(postgresMissing)('a node started with another --cluster-secret', () => {
  let origin: FakeOrigin;
  let cluster: TestCluster;
  let wrong: ClusterNodeProcess;

  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    cluster = new TestCluster(await createDatabase('secrets'), origin.url);
    await Promise.all([cluster.start(), cluster.start()]);
    // A flag wins over the environment's shared secret.
    wrong = await cluster.start({ args: ['--cluster-secret', 'a-different-secret-of-enough-length-0123456789'] });
    await cluster.waitForRing(3);
  });
  afterAll(async () => {
    await cluster?.stop();
    await origin?.stop();
  });

  it("never turns the peers' refusal into a client's 401: every client gets its image, from the origin when a peer refuses", async () => {
    const images = Array.from({ length: 8 }, (_, index) => `secret-${index}`);
    const data = new Map(images.map((id) => [id, randomImage(16 * 1024)]));
    for (const id of images) origin.add(id, { data: data.get(id)! });
    const good = cluster.nodes.find((node) => node !== wrong)!;
    // Through the misconfigured node (its requests are refused by the owners) and through a good
    // node (its requests to images the misconfigured node owns are refused there).
    for (const node of [wrong, good]) {
      for (const id of images) {
        const answer = await download(`${node.url}/v2/images/${id}/file`);
        expect(
          answer.status,
          `${id} through ${node === wrong ? 'the node with the other secret' : 'a good node'}`,
        ).toBe(200);
        expect(answer.sha256).toBe(sha256(data.get(id)!));
      }
    }
    const ownedByWrong = images.filter((id) => cluster.ownerOf(id) === wrong);
    const ownedByOthers = images.filter((id) => cluster.ownerOf(id) !== wrong);
    const refused = (node: ClusterNodeProcess) =>
      metric(node.url, 'imgcache_cluster_origin_fallbacks_total{reason="peer_refused"}');
    expect(await refused(wrong)).toBe(ownedByOthers.length);
    if (ownedByWrong.length > 0) expect(await refused(good)).toBeGreaterThan(0);
  });
});
