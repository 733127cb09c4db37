import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterCommand, parseClusterView } from '../../src/remote/cluster-listing.js';
import { runCli } from '../helpers/run-cli.js';
import {
  startHttpServer,
  startImgcacheServer,
  type LocalHttpServer,
  type RunningServer,
} from '../helpers/server-process.js';

const TOKEN = 'secret';

describe('parseClusterView', () => {
  it('maps the cluster view of GET /v2/cache?scope=cluster', () => {
    const view = parseClusterView({
      node_id: 'a',
      database: { connected: true, last_contact: 1_764_000_000 },
      nodes: [
        {
          node_id: 'a',
          url: 'http://a:9393',
          state: 'active',
          weight: 1,
          on_ring: true,
          heartbeat_age_s: 0.4,
          cached_images: 2,
          cached_bytes: 2048,
          filling_images: 1,
        },
      ],
    });
    expect(view).toEqual({
      nodeId: 'a',
      databaseConnected: true,
      nodes: [
        {
          nodeId: 'a',
          url: 'http://a:9393',
          state: 'active',
          weight: 1,
          onRing: true,
          heartbeatAgeS: 0.4,
          cachedImages: 2,
          cachedBytes: 2048,
          fillingImages: 1,
        },
      ],
    });
  });

  it.each([
    [{ cached_images: [], queued_images: [] }, /not in a cluster/],
    [
      {
        node_id: 'a',
        database: {},
        nodes: [
          {
            node_id: 'a',
            url: 'u',
            state: 'active',
            weight: 1,
            heartbeat_age_s: 'x',
            cached_images: 0,
            cached_bytes: 0,
          },
        ],
      },
      /nodes\[0\]\.heartbeat_age_s/,
    ],
  ])('rejects %j', (body, message) => {
    expect(() => parseClusterView(body)).toThrow(message);
  });
});

describe('parseClusterCommand', () => {
  it('maps a command and its per-node results', () => {
    expect(
      parseClusterCommand({
        id: 3,
        command: 'prune',
        done: true,
        ok: false,
        results: [{ node_id: 'a', url: null, status: 'dead', result: null, error: null }],
      }),
    ).toEqual({
      id: 3,
      command: 'prune',
      done: true,
      ok: false,
      results: [{ nodeId: 'a', url: null, status: 'dead', result: null, error: null }],
    });
    expect(() => parseClusterCommand({ id: 3, command: 'prune', results: {} })).toThrow(/results is not a list/);
  });
});

describe('--scope cluster', () => {
  let root: string;
  let origin: LocalHttpServer;
  let single: RunningServer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'imgcache-cli-scope-'));
    origin = await startHttpServer((_request, response) => void response.writeHead(404).end());
    single = await startImgcacheServer([
      '--origin',
      `${origin.url}/{id}`,
      '--maintenance-interval',
      '0',
      '--dir',
      join(root, 'single'),
      '--admin-token',
      TOKEN,
    ]);
  });
  afterAll(async () => {
    await Promise.all([single?.stop(), origin?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  it('needs --url (usage error, exit 2)', async () => {
    const result = await runCli(['--dir', join(root, 'local'), 'prune', '--scope', 'cluster']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--scope cluster needs --url');
  });

  it('says that a server without --cluster is not in a cluster (exit 1)', async () => {
    const env = { IMGCACHE_TOKEN: TOKEN };
    for (const args of [
      ['list-cached', '--scope', 'cluster'],
      ['stats', '--scope', 'cluster'],
      ['prune', '--scope', 'cluster'],
      ['clean', '--scope', 'cluster'],
    ]) {
      const result = await runCli(['--url', single.url, ...args], { env });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/not in a cluster/);
    }
  });

  it('keeps stats, prune and clean local without the scope (exit 2 with a server URL)', async () => {
    for (const command of ['stats', 'prune', 'clean']) {
      const result = await runCli(['--url', single.url, command], { env: { IMGCACHE_TOKEN: TOKEN } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--scope cluster');
    }
  });
});
