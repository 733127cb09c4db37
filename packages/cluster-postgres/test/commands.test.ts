import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster, type Cluster } from '../src/cluster.js';
import { ClusterCommands, type CommandKind, type CommandRecord } from '../src/commands.js';
import { Holdings } from '../src/holdings.js';
import { Listener } from '../src/listener.js';
import { createDatabase, postgresMissing } from './helpers/database.js';

const silent = { info: () => undefined, warn: () => undefined };
/** Short enough that a stopped node is dead within the test, long enough for a busy machine's late heartbeats. */
const TIMINGS = { heartbeatMs: 100, deadAfterMs: 3_000 };

type Run = (kind: CommandKind, args: Record<string, unknown>) => Promise<Record<string, number>>;

/** Reads until `accept` takes the value, every 50 ms (the test's own timeout bounds it). */
async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const statuses = (command: CommandRecord | undefined) =>
  Object.fromEntries(command!.results.map((result) => [result.nodeId, result.status]));

describe.skipIf(postgresMissing)('cluster commands', () => {
  let url: string;
  let root: string;
  const clusters: Cluster[] = [];
  const closers: (() => Promise<void>)[] = [];

  /** A node of the cluster, joined and active. */
  async function node(name: string): Promise<Cluster> {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    const cluster = await joinCluster({ url, dir, advertiseUrl: `http://${name}.test`, timings: TIMINGS });
    await cluster.activate();
    clusters.push(cluster);
    return cluster;
  }

  /**
   * The commands of a node, listening (a replay interval of a minute: only notifications
   * and start() wake it), not started; closed after the test.
   */
  async function commandsOf(cluster: Cluster, run: Run): Promise<ClusterCommands> {
    const listener = new Listener(url, silent, 100);
    const commands = new ClusterCommands({
      pool: cluster.pool,
      listener,
      nodeId: cluster.nodeId,
      run,
      replayMs: 60_000,
      deadAfterMs: TIMINGS.deadAfterMs,
      logger: silent,
    });
    closers.push(async () => {
      await commands.close();
      await listener.close();
    });
    listener.start();
    await listener.ready;
    return commands;
  }

  beforeAll(async () => {
    url = await createDatabase('commands');
    root = await mkdtemp(join(tmpdir(), 'imgcache-commands-'));
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await Promise.all(clusters.map((cluster) => cluster.close()));
    await rm(root, { recursive: true, force: true });
  });

  it('runs a command on every active node, one result row each, and a node that missed the notification runs it on its replay', async () => {
    const [a, b, late] = [await node('a'), await node('b'), await node('late')];
    const ran: string[] = [];
    const run =
      (name: string): Run =>
      async (kind) => {
        ran.push(`${name}:${kind}`);
        return { files: name.length, bytes: 1000 * name.length };
      };
    const onA = await commandsOf(a, run('a'));
    const onB = await commandsOf(b, run('b'));
    // Started before the command exists: their first pass finds nothing.
    await Promise.all([onA.start(), onB.start()]);
    // Listening but not started (a node still starting up): a notification must not run its part
    // yet, or start() would take that part for one an earlier run of the node left and fail it.
    const onLate = await commandsOf(late, run('late'));
    const id = await onA.issue('prune', {}, 60_000);
    // Woken by the notification alone (their replay interval is a minute).
    const partial = await until(
      () => onA.get(id),
      (command) => statuses(command)[a.nodeId] === 'ok' && statuses(command)[b.nodeId] === 'ok',
    );
    expect(partial!.done).toBe(false);
    expect(partial!.ok).toBe(false);
    expect(statuses(partial)[late.nodeId]).toBe('pending');
    // Once started, the late node finds the command on its first replay and runs it.
    await onLate.start();
    const done = await onB.wait(id, 20_000, 50);
    expect(done).toMatchObject({ id, kind: 'prune', issuedBy: a.nodeId, done: true, ok: true });
    expect(done!.results.map((result) => result.nodeId).sort()).toEqual([a.nodeId, b.nodeId, late.nodeId].sort());
    const lateResult = done!.results.find((result) => result.nodeId === late.nodeId)!;
    expect(lateResult).toMatchObject({
      url: 'http://late.test',
      status: 'ok',
      result: { files: 4, bytes: 4000 },
      error: null,
    });
    expect(lateResult.finishedAt!.getTime()).toBeGreaterThanOrEqual(lateResult.startedAt!.getTime());
    // Once per node, however many replays run.
    await Promise.all([onA.replay(), onB.replay(), onLate.replay(), onLate.replay()]);
    expect(ran.sort()).toEqual(['a:prune', 'b:prune', 'late:prune']);
    expect((await onA.list()).map((command) => command.id)).toContain(id);
  });

  it('reports a node whose run failed as failed, never as success', async () => {
    const [a, b] = [clusters[0]!, clusters[1]!];
    const onA = await commandsOf(a, async () => ({ files: 0, bytes: 0 }));
    const onB = await commandsOf(b, async () => {
      throw new Error('disk on fire');
    });
    // Only the nodes that replay answer; the third is already covered above, so leave it out of the ring.
    await clusters[2]!.membership.setState('draining');
    try {
      const id = await onA.issue('clean', {}, 60_000);
      await Promise.all([onA.start(), onB.start()]);
      const done = await onA.wait(id, 20_000, 50);
      expect(done).toMatchObject({ done: true, ok: false });
      expect(done!.results.find((result) => result.nodeId === b.nodeId)).toMatchObject({
        status: 'failed',
        error: 'disk on fire',
        result: null,
      });
      expect(done!.results.find((result) => result.nodeId === a.nodeId)).toMatchObject({ status: 'ok' });
    } finally {
      await clusters[2]!.membership.setState('active');
    }
  });

  it('shows a node that dies before answering as dead, one that does not answer in time as timed out, and one restarted mid-command as failed', async () => {
    const a = clusters[0]!;
    const dying = await node('dying');
    const slow = await node('slow');
    const restarted = await node('restarted');
    let release!: () => void;
    const stuck = new Promise<Record<string, number>>((resolve) => (release = () => resolve({})));
    closers.unshift(async () => release());
    const onA = await commandsOf(a, async () => ({ images: 1, queued: 0 }));
    await onA.start();
    const onSlow = await commandsOf(slow, () => stuck);
    const onRestarted = await commandsOf(restarted, () => stuck);
    await until(
      async () => {
        await a.membership.beat();
        return a.membership.ring().length;
      },
      (count) => count === 6,
    );
    const id = await onA.issue('clear', { target: 'cache' }, 4_000);
    await Promise.all([onSlow.start(), onRestarted.start()]);
    await until(
      () => onA.get(id),
      (command) => statuses(command)[slow.nodeId] === 'running' && statuses(command)[restarted.nodeId] === 'running',
    );
    // Killed in the middle of a fill: no leave, no more heartbeats.
    await new Holdings(dying.pool, dying.nodeId).set('half-fetched', { state: 'filling', size: 100, checksum: null });
    await dying.close({ leave: false });
    // The same node id comes back (a restart): its unfinished part is closed as interrupted.
    const again = await commandsOf(restarted, async () => ({}));
    await again.start();
    const done = await until(
      () => onA.get(id),
      (command) => command!.done,
    );
    const byNode = statuses(done);
    expect(done).toMatchObject({ args: { target: 'cache' }, ok: false });
    expect(byNode[a.nodeId]).toBe('ok');
    expect(byNode[dying.nodeId]).toBe('dead');
    expect(byNode[slow.nodeId]).toBe('timed_out');
    expect(byNode[restarted.nodeId]).toBe('failed');
    expect(done!.results.find((result) => result.nodeId === restarted.nodeId)!.error).toMatch(/interrupted/);
    // What was reported stays: the slow node finishing after the report does not turn its part into a success.
    release();
    await onSlow.replay();
    expect(statuses(await onA.get(id))).toEqual(byNode);
    // Once it is dead, the others' heartbeats remove its fill in progress: no permanent `filling` row.
    await until(
      async () =>
        (await a.pool.query("SELECT 1 FROM imgcache_holdings WHERE node_id = $1 AND state = 'filling'", [dying.nodeId]))
          .rowCount,
      (count) => count === 0,
    );
  }, 60_000);
});
