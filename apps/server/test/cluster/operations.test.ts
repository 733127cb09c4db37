import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  postgresMissing,
  type ClusterNodeProcess,
} from './helpers/cluster-harness.js';

const COMMANDS = '/v2/cache/cluster/commands';
/** The built imgcache CLI of this repository. */
const CLI = fileURLToPath(new URL('../../../cli/dist/bin.js', import.meta.url));

/** Runs the imgcache CLI against a node with the admin token; resolves with its exit status and output (bounded to 30 s). */
function cli(
  node: ClusterNodeProcess,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, '--url', node.url, ...args],
      { env: { ...process.env, IMGCACHE_TOKEN: ADMIN }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

interface CommandJson {
  id: number;
  command: string;
  done: boolean;
  ok: boolean;
  results: {
    node_id: string;
    url: string | null;
    status: string;
    result: Record<string, number> | null;
    error: string | null;
    started_at: number | null;
    finished_at: number | null;
  }[];
}

/** Issues a command on `node` (202) and returns it. */
async function issue(node: ClusterNodeProcess, query: string): Promise<CommandJson> {
  const response = await send(`${node.url}${COMMANDS}?${query}`, { method: 'POST', headers: admin });
  expect(response.status).toBe(202);
  const command = JSON.parse(response.body.toString()) as CommandJson;
  expect(response.headers.location).toBe(`${COMMANDS}/${command.id}`);
  return command;
}

/** Reads a command on `node`, each read waiting up to 5 s server-side, until it is done (the test's timeout bounds it). */
function finished(node: ClusterNodeProcess, id: number): Promise<CommandJson> {
  return until(
    async () =>
      JSON.parse(
        (await send(`${node.url}${COMMANDS}/${id}?wait=5`, { headers: admin })).body.toString(),
      ) as CommandJson,
    (command) => command.done,
  );
}

/** The holders of an image as `GET /v2/cache/nodes/{id}` lists them: node id and state. */
async function holdings(node: ClusterNodeProcess, imageId: string): Promise<{ node_id: string; state: string }[]> {
  const response = await send(`${node.url}/v2/cache/nodes/${imageId}`, { headers: admin });
  expect(response.status).toBe(200);
  return (JSON.parse(response.body.toString()) as { holders: { node_id: string; state: string }[] }).holders;
}

describe.skipIf(postgresMissing)('cluster operations on 3 real server processes', () => {
  let origin: FakeOrigin;
  let cluster: TestCluster;

  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    cluster = new TestCluster(await createDatabase('operations'), origin.url, [
      '--admin-token',
      ADMIN,
      '--cluster-copy',
      'always',
    ]);
    await Promise.all([cluster.start(), cluster.start(), cluster.start()]);
    await cluster.waitForRing(3);
  });
  afterAll(async () => {
    await cluster?.stop();
    await origin?.stop();
  });

  it('runs clear issued on one node on every node, with a result per node', async () => {
    const data = randomImage(32 * 1024);
    origin.add('everywhere', { data });
    // Through each node (copies kept): every node holds it.
    for (const node of cluster.nodes)
      expect((await download(`${node.url}/v2/images/everywhere/file`)).sha256).toBe(sha256(data));
    for (const node of cluster.nodes) expect(await imagesCachedOn(node, admin)).toContain('everywhere');
    const issued = await issue(cluster.nodes[1]!, 'command=clear&target=cache');
    expect(issued).toMatchObject({ command: 'clear' });
    expect(issued.results.map((result) => result.node_id).sort()).toEqual(
      cluster.nodes.map((node) => node.nodeId).sort(),
    );
    // Read on another node than the one it was issued on.
    const done = await finished(cluster.nodes[2]!, issued.id);
    expect(done.ok).toBe(true);
    for (const result of done.results) {
      expect(result).toMatchObject({ status: 'ok', error: null, result: { images: 1, queued: 0 } });
      expect(result.finished_at).toBeGreaterThanOrEqual(result.started_at!);
    }
    for (const node of cluster.nodes) expect(await imagesCachedOn(node, admin)).not.toContain('everywhere');
    const listed = JSON.parse(
      (await send(`${cluster.nodes[0]!.url}${COMMANDS}`, { headers: admin })).body.toString(),
    ) as { commands: CommandJson[] };
    expect(listed.commands.map((command) => command.id)).toContain(issued.id);
  });

  it('refuses unknown commands, bad ids and callers without the admin token', async () => {
    const node = cluster.nodes[0]!;
    expect((await send(`${node.url}${COMMANDS}?command=format`, { method: 'POST', headers: admin })).status).toBe(400);
    expect(
      (await send(`${node.url}${COMMANDS}?command=prune&target=cache`, { method: 'POST', headers: admin })).status,
    ).toBe(400);
    expect((await send(`${node.url}${COMMANDS}?command=prune`, { method: 'POST' })).status).toBe(401);
    expect((await send(`${node.url}${COMMANDS}/abc`, { headers: admin })).status).toBe(400);
    expect((await send(`${node.url}${COMMANDS}/999999`, { headers: admin })).status).toBe(404);
  });

  it('publishes a fill in progress as filling, then as cached', async () => {
    let release!: () => void;
    let reached!: () => void;
    const halfway = new Promise<void>((resolve) => (reached = resolve));
    const data = randomImage(256 * 1024);
    origin.add('slow-fill', {
      data,
      gate: { afterBytes: 64 * 1024, release: new Promise<void>((resolve) => (release = resolve)), reached },
    });
    const owner = cluster.ownerOf('slow-fill');
    const other = cluster.nodes.find((node) => node !== owner)!;
    const pending = download(`${owner.url}/v2/images/slow-fill/file`);
    await halfway;
    expect(
      await until(
        () => holdings(other, 'slow-fill'),
        (rows) => rows.length > 0,
      ),
    ).toEqual([expect.objectContaining({ node_id: owner.nodeId, state: 'filling' })]);
    const view = JSON.parse(
      (await send(`${other.url}/v2/cache?scope=cluster`, { headers: admin })).body.toString(),
    ) as { nodes: { node_id: string; filling_images: number }[] };
    expect(view.nodes.find((row) => row.node_id === owner.nodeId)!.filling_images).toBe(1);
    release();
    expect((await pending).sha256).toBe(sha256(data));
    expect(
      await until(
        () => holdings(other, 'slow-fill'),
        (rows) => rows[0]?.state === 'cached',
      ),
    ).toEqual([expect.objectContaining({ node_id: owner.nodeId, state: 'cached' })]);
  });

  it('serves a peer’s signed request without asking the origin again for the client’s authorisation; a direct request is still checked', async () => {
    const data = randomImage(64 * 1024);
    origin.add('trusted', { data, allowedTokens: ['first', 'second', 'third'] });
    const owner = cluster.ownerOf('trusted');
    const other = cluster.nodes.find((node) => node !== owner)!;
    const asked = (token: string) =>
      origin.seen.filter(
        (request) => request.url.endsWith('/v2/images/trusted') && request.headers['x-auth-token'] === token,
      ).length;
    expect(
      (await download(`${owner.url}/v2/images/trusted/file`, { headers: { 'x-auth-token': 'first' } })).sha256,
    ).toBe(sha256(data));
    // The node the client reached checks it once; the owner, asked by that node, does not check again.
    expect(
      await download(`${other.url}/v2/images/trusted/file`, { headers: { 'x-auth-token': 'second' } }),
    ).toMatchObject({ status: 200, sha256: sha256(data) });
    expect(asked('second')).toBe(1);
    // Without a signature the owner checks the client itself, and refuses one the origin refuses.
    expect(
      await download(`${owner.url}/v2/images/trusted/file`, { headers: { 'x-auth-token': 'third' } }),
    ).toMatchObject({ status: 200, sha256: sha256(data) });
    expect(asked('third')).toBe(1);
    expect(
      (await send(`${owner.url}/v2/images/trusted/file`, { headers: { 'x-auth-token': 'stranger' } })).status,
    ).toBe(403);
    // A bad signature is refused before anything is served.
    const forged = await send(`${owner.url}/v2/images/trusted/file`, {
      headers: {
        'x-auth-token': 'stranger',
        'x-imgcache-peer': `${other.nodeId}.${Math.floor(Date.now() / 1000)}.${'A'.repeat(43)}`,
      },
    });
    expect(forged.status).toBe(401);
    expect(origin.dataRequests.get('trusted')).toBe(1);
  });

  it('prunes every node and shows the cluster with the CLI (--url, --scope cluster)', async () => {
    const node = cluster.nodes[0]!;
    const pruned = await cli(node, ['prune', '--scope', 'cluster']);
    expect(pruned.stderr).toBe('');
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('3 of 3 nodes succeeded');
    for (const each of cluster.nodes)
      expect(pruned.stdout).toMatch(new RegExp(`${each.nodeId} +${each.url} +ok +bytes 0 B, files 0`));
    const view = JSON.parse((await cli(node, ['--json', 'list-cached', '--scope', 'cluster'])).stdout) as {
      nodeId: string;
      nodes: { nodeId: string; state: string; onRing: boolean }[];
    };
    expect(view.nodeId).toBe(node.nodeId);
    expect(view.nodes.map((row) => row.nodeId).sort()).toEqual(cluster.nodes.map((each) => each.nodeId).sort());
    for (const row of view.nodes) expect(row).toMatchObject({ state: 'active', onRing: true });
    const human = await cli(node, ['stats', '--scope', 'cluster']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('Cluster of 3 nodes, 3 on the ring');
    // Without the scope, stats stays a local command.
    expect((await cli(node, ['stats'])).code).toBe(2);
  });

  it('shows a node killed before it answered a command as dead, never as a success', async () => {
    const victim = cluster.nodes[2]!;
    const survivors = cluster.nodes.filter((node) => node !== victim);
    // Killed while still on every ring: it is a target, and never answers.
    await victim.process.kill();
    // Through the API and the CLI at once, while the victim is still a target.
    const [issued, cleaned] = await Promise.all([
      issue(survivors[0]!, 'command=prune'),
      cli(survivors[1]!, ['clean', '--scope', 'cluster']),
    ]);
    expect(issued.results.map((result) => result.node_id)).toContain(victim.nodeId);
    const done = await finished(survivors[1]!, issued.id);
    expect(done.ok).toBe(false);
    const byNode = new Map(done.results.map((result) => [result.node_id, result]));
    expect(byNode.get(victim.nodeId)).toMatchObject({ status: 'dead', result: null });
    for (const node of survivors)
      expect(byNode.get(node.nodeId)).toMatchObject({ status: 'ok', result: { files: 0, bytes: 0 } });
    // The CLI says so, and fails.
    expect(cleaned.code).toBe(1);
    expect(cleaned.stdout).toMatch(new RegExp(`${victim.nodeId} +${victim.url} +dead`));
    expect(cleaned.stderr).toContain(`${victim.nodeId} (dead)`);
  });
});
