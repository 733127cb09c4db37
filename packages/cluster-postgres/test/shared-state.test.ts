import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster, type Cluster } from '../src/cluster.js';
import { Holdings } from '../src/holdings.js';
import { Listener } from '../src/listener.js';
import { PurgeLog } from '../src/purge-log.js';
import { PrefetchJobs } from '../src/jobs.js';
import { FillLeases } from '../src/fill-leases.js';
import { ownerOf } from '../src/placement.js';
import { createDatabase, postgresMissing } from './helpers/database.js';

const silent = { info: () => undefined, warn: () => undefined };

describe.skipIf(postgresMissing)('holdings and purge log', () => {
  let url: string;
  let root: string;
  const nodes: Cluster[] = [];
  const logs: PurgeLog[] = [];
  const listeners: Listener[] = [];
  const listener = () => {
    const created = new Listener(url, silent, 100);
    listeners.push(created);
    return created;
  };

  beforeAll(async () => {
    url = await createDatabase('shared');
    root = await mkdtemp(join(tmpdir(), 'imgcache-shared-'));
    for (const name of ['a', 'b']) {
      await mkdir(join(root, name));
      const cluster = await joinCluster({
        url,
        dir: join(root, name),
        advertiseUrl: `http://${name}.test`,
        timings: { heartbeatMs: 100, deadAfterMs: 5_000 },
      });
      await cluster.activate();
      nodes.push(cluster);
    }
  });
  afterAll(async () => {
    await Promise.all(logs.map((log) => log.close()));
    await Promise.all(listeners.map((each) => each.close()));
    await Promise.all(nodes.map((node) => node.close()));
    await rm(root, { recursive: true, force: true });
  });

  it('syncs a node’s holdings idempotently, lists holders and totals', async () => {
    const [a, b] = nodes as [Cluster, Cluster];
    const holdingsA = new Holdings(a.pool, a.nodeId);
    const holdingsB = new Holdings(b.pool, b.nodeId);
    const image = (imageId: string, size: number) => ({
      imageId,
      state: 'cached' as const,
      size,
      checksum: `sha256:${'0'.repeat(64)}`,
    });
    await holdingsA.sync([image('x', 10), image('y', 20)]);
    await holdingsA.sync([image('x', 10), image('y', 20)]);
    await holdingsB.sync([image('x', 10)]);
    expect((await holdingsA.holders('x')).map((holder) => holder.url)).toEqual(['http://a.test', 'http://b.test']);
    // A later sync drops what the node no longer holds.
    await holdingsA.sync([image('y', 20)]);
    expect((await holdingsB.holders('x')).map((holder) => holder.nodeId)).toEqual([b.nodeId]);
    expect(await holdingsA.totals()).toEqual(
      [
        { nodeId: a.nodeId, images: 1, bytes: 20, filling: 0 },
        { nodeId: b.nodeId, images: 1, bytes: 10, filling: 0 },
      ].sort((left, right) => (left.nodeId < right.nodeId ? -1 : 1)),
    );
    await holdingsB.set('x', { state: 'evicting', size: 10, checksum: null });
    expect((await holdingsA.holders('x'))[0]).toMatchObject({ state: 'evicting' });
    await holdingsB.set('x', null);
    expect(await holdingsA.holders('x')).toEqual([]);
  });

  it('applies every purge once on every other node, in order, woken by notifications', async () => {
    const [a, b] = nodes as [Cluster, Cluster];
    const appliedOnB: string[] = [];
    const appliedOnA: string[] = [];
    // A long replay interval: only the notification can wake B within the test.
    const listenerA = listener();
    const listenerB = listener();
    const logA = new PurgeLog({
      pool: a.pool,
      listener: listenerA,
      nodeId: a.nodeId,
      replayMs: 60_000,
      logger: silent,
      apply: async (id) => void appliedOnA.push(id),
    });
    const logB = new PurgeLog({
      pool: b.pool,
      listener: listenerB,
      nodeId: b.nodeId,
      replayMs: 60_000,
      logger: silent,
      apply: async (id) => void appliedOnB.push(id),
    });
    logs.push(logA, logB);
    logA.start();
    logB.start();
    listenerA.start();
    listenerB.start();
    await Promise.all([listenerA.ready, listenerB.ready]);
    await logB.replay();
    await logA.append('p1');
    await logA.append('p2');
    while (appliedOnB.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(appliedOnB).toEqual(['p1', 'p2']);
    // The node that logged them had applied them already.
    await logA.replay();
    expect(appliedOnA).toEqual([]);
    const { rows } = await b.pool.query<{ purge_seq: string }>(
      'SELECT purge_seq FROM imgcache_nodes WHERE node_id = $1',
      [b.nodeId],
    );
    expect(Number(rows[0]!.purge_seq)).toBe(logB.lastApplied);
  });

  it('resumes after a restart from the last applied number, so nothing is applied twice or missed', async () => {
    const [a, b] = nodes as [Cluster, Cluster];
    const logA = logs[0]!;
    await logs[1]!.close();
    await logA.append('while-away');
    const applied: string[] = [];
    const again = new PurgeLog({
      pool: b.pool,
      listener: listener(),
      nodeId: b.nodeId,
      replayMs: 60_000,
      logger: silent,
      apply: async (id) => void applied.push(id),
    });
    logs.push(again);
    await again.replay();
    expect(applied).toEqual(['while-away']);
    expect(a.nodeId).not.toBe(b.nodeId);
  });

  it('hands each prefetch job to exactly the nodes it targets, claimed without blocking', async () => {
    const [a, b] = nodes as [Cluster, Cluster];
    await Promise.all(nodes.map((node) => node.membership.beat()));
    const jobs = (node: Cluster) =>
      new PrefetchJobs(
        node.pool,
        node.nodeId,
        () => node.membership.ring(),
        listener(),
        () => undefined,
      );
    const jobsA = jobs(a);
    const jobsB = jobs(b);
    const ids = Array.from({ length: 20 }, (_, index) => `job-${index}`);
    for (const id of ids) await jobsA.enqueue(id, 'owner');
    await jobsA.enqueue('everywhere', 'all');
    await jobsA.enqueue('on-b', { node: b.nodeId });
    await jobsA.enqueue('two', { replicas: 2 });
    // Both claim at once: SKIP LOCKED keeps them from waiting on each other's rows.
    const [claimedA, claimedB] = await Promise.all([jobsA.claim(), jobsB.claim()]);
    const [moreA, moreB] = await Promise.all([jobsA.claim(), jobsB.claim()]);
    const onA = [...claimedA, ...moreA].sort();
    const onB = [...claimedB, ...moreB].sort();
    const ring = a.membership.ring();
    const owned = (node: Cluster) => ids.filter((id) => ownerOf(id, ring)!.nodeId === node.nodeId);
    expect(onA).toEqual([...owned(a), 'everywhere', 'two'].sort());
    expect(onB).toEqual([...owned(b), 'everywhere', 'on-b', 'two'].sort());
    expect(await jobsA.claim()).toEqual([]);
  });

  it('gives a fill lease to one node at a time, renewed by its holder, taken over once it expires', async () => {
    const [a, b] = nodes as [Cluster, Cluster];
    const leaseA = new FillLeases(a.pool, a.nodeId, 'http://a.test', 300);
    const leaseB = new FillLeases(b.pool, b.nodeId, 'http://b.test', 300);
    const [first, second] = await Promise.all([leaseA.claim('img'), leaseB.claim('img')]);
    const winners = [first, second].filter((claim) => claim.mine);
    expect(winners).toHaveLength(1);
    const [winner, loser] = first.mine ? [leaseA, leaseB] : [leaseB, leaseA];
    const winnerUrl = first.mine ? 'http://a.test' : 'http://b.test';
    expect(await loser.claim('img')).toEqual({ mine: false, holder: { nodeId: expect.any(String), url: winnerUrl } });
    expect(await winner.claim('img')).toEqual({ mine: true });
    expect(await winner.renew('img')).toBe(true);
    // Not renewed: the holder is presumed dead and the lease is taken over.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await loser.claim('img')).toEqual({ mine: true });
    expect(await winner.renew('img')).toBe(false);
    await loser.release('img');
    expect(await winner.claim('img')).toEqual({ mine: true });
    await winner.release('img');
  });
});
