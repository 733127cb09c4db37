import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster, type Cluster } from '../src/cluster.js';
import type { MembershipTimings } from '../src/membership.js';
import { ownerOf } from '../src/placement.js';
import { createDatabase, postgresMissing } from './helpers/database.js';
import { TcpGate } from '../src/testing/tcp-gate.js';

const timings: Partial<MembershipTimings> = { heartbeatMs: 100, deadAfterMs: 600, forgetAfterMs: 60_000 };

describe.skipIf(postgresMissing)('membership', () => {
  let url: string;
  let root: string;
  const open: Cluster[] = [];
  const byName = new Map<string, Cluster>();

  beforeAll(async () => {
    url = await createDatabase('membership');
    root = await mkdtemp(join(tmpdir(), 'imgcache-membership-'));
  });
  afterAll(async () => {
    await Promise.all(open.map((cluster) => cluster.close().catch(() => undefined)));
    await rm(root, { recursive: true, force: true });
  });

  async function node(
    name: string,
    options: { advertiseUrl?: string; weight?: number; databaseUrl?: string } = {},
  ): Promise<Cluster> {
    const cluster = await joinCluster({
      url: options.databaseUrl ?? url,
      dir: join(root, name),
      advertiseUrl: options.advertiseUrl ?? `http://${name}.test:9393`,
      weight: options.weight ?? 1,
      timings,
    });
    open.push(cluster);
    byName.set(name, cluster);
    return cluster;
  }

  async function until(condition: () => boolean): Promise<void> {
    // Bounded by the test timeout; each heartbeat rereads the table.
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 25));
  }

  const ringIds = (cluster: Cluster) =>
    cluster.membership
      .ring()
      .map((member) => member.nodeId)
      .sort();

  it('forms one ring on which every node computes the same owner', async () => {
    for (const name of ['a', 'b', 'c']) await mkdir(join(root, name), { recursive: true });
    const nodes = await Promise.all(['a', 'b', 'c'].map((name) => node(name)));
    // Joining nodes own nothing yet.
    await Promise.all(nodes.map((cluster) => cluster.membership.beat()));
    expect(nodes[0]!.membership.ring()).toEqual([]);
    await Promise.all(nodes.map((cluster) => cluster.activate()));
    const all = nodes.map((cluster) => cluster.nodeId).sort();
    await until(() => nodes.every((cluster) => ringIds(cluster).join() === all.join()));
    for (const id of ['one', 'two', 'three', 'four', 'five']) {
      const owners = new Set(nodes.map((cluster) => cluster.ownerOf(id)!.nodeId));
      expect(owners.size).toBe(1);
      expect([...owners][0]).toBe(ownerOf(id, nodes[0]!.membership.ring())!.nodeId);
    }
    expect(new Set(nodes.map((cluster) => cluster.ownerOf('one')!.url)).size).toBe(1);
  });

  it('drops a node that stopped its heartbeat from every ring and marks it dead', async () => {
    await mkdir(join(root, 'd'), { recursive: true });
    const observer = byName.get('a')!;
    const doomed = await node('d');
    await doomed.activate();
    await until(() => ringIds(observer).includes(doomed.nodeId));
    // Gone without a word (a crash): no clean leave.
    await doomed.close({ leave: false });
    await until(() => !ringIds(observer).includes(doomed.nodeId));
    await until(
      () => observer.membership.members().find((member) => member.nodeId === doomed.nodeId)?.state === 'dead',
    );
  });

  it('keeps its id when restarted on a new address, and the ring follows the address', async () => {
    const first = byName.get('b')!;
    const id = first.nodeId;
    await first.close({ leave: false });
    const again = await node('b', { advertiseUrl: 'http://b-new.test:9393' });
    expect(again.nodeId).toBe(id);
    await again.activate();
    const observer = byName.get('a')!;
    await until(
      () => observer.membership.ring().find((member) => member.nodeId === id)?.url === 'http://b-new.test:9393',
    );
    expect(observer.membership.ring().filter((member) => member.url === 'http://b.test:9393')).toEqual([]);
  });

  it('declares dead a node replaced at the same address by a new one', async () => {
    await mkdir(join(root, 'c2'), { recursive: true });
    const old = byName.get('c')!;
    const oldUrl = old.advertiseUrl;
    // Gone without a word, and replaced before it was found dead.
    await old.close({ leave: false });
    const replacement = await node('c2', { advertiseUrl: oldUrl });
    const { rows } = await replacement.pool.query<{ state: string }>(
      'SELECT state FROM imgcache_nodes WHERE node_id = $1',
      [old.nodeId],
    );
    expect(rows[0]?.state).toBe('dead');
    await replacement.close();
  });

  it('keeps a live node out of the ring once another joined at its address, and says so', async () => {
    await mkdir(join(root, 'd2'), { recursive: true });
    const first = await node('d', { advertiseUrl: 'http://shared.test:9393' });
    await first.activate();
    const second = await node('d2', { advertiseUrl: 'http://shared.test:9393' });
    await second.activate();
    // The first node is still running: its heartbeats must not put it back.
    await first.membership.beat();
    await second.membership.beat();
    expect(first.membership.replaced).toBe(true);
    const onRing = ringIds(second);
    expect(onRing).toContain(second.nodeId);
    expect(onRing).not.toContain(first.nodeId);
    const { rows } = await second.pool.query<{ state: string }>('SELECT state FROM imgcache_nodes WHERE node_id = $1', [
      first.nodeId,
    ]);
    expect(rows[0]?.state).toBe('dead');
    await second.close();
    await first.close();
  });

  it('keeps placing with the last known ring while the database is unreachable, and resyncs when it returns', async () => {
    await mkdir(join(root, 'e'), { recursive: true });
    const gate = await TcpGate.start(Number(new URL(url).port));
    const gatedUrl = new URL(url);
    gatedUrl.port = String(gate.port);
    try {
      const cluster = await node('e', { databaseUrl: gatedUrl.toString() });
      await cluster.activate();
      await until(() => ringIds(cluster).length >= 2 && cluster.membership.connected);
      const ring = ringIds(cluster);
      gate.cut();
      await until(() => !cluster.membership.connected);
      expect(ringIds(cluster)).toEqual(ring);
      expect(cluster.ownerOf('some-image')).toBeDefined();
      gate.reopen();
      await until(() => cluster.membership.connected);
    } finally {
      await gate.close();
    }
  });

  it('refuses a weight of 0', async () => {
    await expect(joinCluster({ url, dir: root, advertiseUrl: 'http://x.test', weight: 0 })).rejects.toMatchObject({
      code: 'ERR_IMGCACHE_CLUSTER_OPTION',
    });
  });

  it('removes the row of a node that leaves cleanly', async () => {
    await mkdir(join(root, 'f'), { recursive: true });
    const leaving = await node('f');
    await leaving.close();
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const { rowCount } = await check.query('SELECT 1 FROM imgcache_nodes WHERE node_id = $1', [leaving.nodeId]);
    await check.end();
    expect(rowCount).toBe(0);
  });
});
