import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerOf } from '@imgcache/cluster-postgres';
import { createTestDatabase, freePort } from '@imgcache/cluster-postgres/testing';
import { inject } from 'vitest';
import { send } from '../../helpers/http-client.js';
import { ServerProcess } from '../../helpers/server-process.js';

/** The admin token the cluster tests start their nodes with, and its request header. */
export const ADMIN = 'cluster-admin-token';
export const admin = { 'x-auth-token': ADMIN };

/** Hex sha256 of a body, to compare what a client got with what the origin holds. */
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The run's PostgreSQL admin URL, or '' (the cluster tests then skip, saying why). */
export const postgresUrl = inject('postgresUrl');
export const postgresMissing = postgresUrl ? '' : `no PostgreSQL for the cluster tests: ${inject('postgresMissing')}`;
if (postgresMissing) console.warn(postgresMissing);

export const SECRET = randomBytes(24).toString('hex');

/** Short timings so membership changes show within seconds, with room for a busy machine's late heartbeats. */
export const FAST = ['--cluster-heartbeat', '0.2', '--cluster-dead-after', '3'];

/** Creates an empty database for one test file and returns its URL. */
export function createDatabase(prefix: string): Promise<string> {
  return createTestDatabase(postgresUrl, prefix);
}

/** One imgcache-server process of a test cluster. */
export interface ClusterNodeProcess {
  process: ServerProcess;
  dir: string;
  nodeId: string;
  url: string;
}

/**
 * Real imgcache-server processes on loopback forming one cluster, each with its own cache
 * directory, all in front of `originUrl`.
 */
export class TestCluster {
  readonly nodes: ClusterNodeProcess[] = [];
  private readonly dirs: string[] = [];

  constructor(
    private readonly databaseUrl: string,
    private readonly originUrl: string,
    private readonly args: readonly string[] = [],
  ) {}

  /** Starts a node (on a fresh directory unless `dir` is given) and returns it once it listens. */
  async start(options: { dir?: string; args?: readonly string[] } = {}): Promise<ClusterNodeProcess> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'imgcache-cluster-')));
    if (!options.dir) this.dirs.push(dir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const process = await ServerProcess.start(
      [
        '--origin',
        this.originUrl,
        '--dir',
        dir,
        '--min-free',
        '0',
        '--port',
        String(port),
        '--cluster',
        this.databaseUrl,
        '--advertise-url',
        url,
        ...FAST,
        ...this.args,
        ...(options.args ?? []),
      ],
      { IMGCACHE_CLUSTER_SECRET: SECRET },
    );
    const nodeId = (await readFile(join(dir, 'cluster-node-id'), 'utf8')).trim();
    const node = { process, dir, nodeId, url };
    this.nodes.push(node);
    return node;
  }

  /** The running nodes. */
  get running(): ClusterNodeProcess[] {
    return this.nodes.filter((node) => node.process.running);
  }

  /** The node that owns an image on a ring of `among` (default: the running nodes, equal weights). */
  ownerOf(imageId: string, among: ClusterNodeProcess[] = this.running): ClusterNodeProcess {
    const owner = ownerOf(
      imageId,
      among.map((node) => ({ nodeId: node.nodeId, weight: 1 })),
    )!;
    return among.find((node) => node.nodeId === owner.nodeId)!;
  }

  /** Waits until every node in `nodes` counts exactly `count` nodes on its ring. */
  async waitForRing(count: number, nodes: ClusterNodeProcess[] = this.running): Promise<void> {
    for (const node of nodes) {
      // Bounded by the test timeout; each heartbeat rereads the table.
      while ((await metric(node.url, 'imgcache_cluster_nodes{state="active"}')) !== count)
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.kill()));
    await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/** A sample's value from a node's /metrics, or undefined when absent. */
export async function metric(url: string, sample: string): Promise<number | undefined> {
  const { body } = await send(`${url}/metrics`);
  const line = body
    .toString()
    .split('\n')
    .find((each) => each.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/** Reads until `accept` takes the value, every 100 ms (the test's own timeout bounds it). */
export async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The ids of the images a node lists in its own `GET /v2/cache` (admin headers given). */
export async function imagesCachedOn(node: ClusterNodeProcess, headers: Record<string, string>): Promise<string[]> {
  const response = await send(`${node.url}/v2/cache`, { headers });
  return (JSON.parse(response.body.toString()) as { cached_images: { image_id: string }[] }).cached_images.map(
    (image) => image.image_id,
  );
}
