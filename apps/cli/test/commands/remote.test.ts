import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatSize } from '../../src/format/format-size.js';
import { createSandbox, runInTerminal, type Sandbox } from '../helpers/run-cli.js';
import {
  freeBadPort,
  startHttpServer,
  startImgcacheServer,
  unusedUrl,
  type LocalHttpServer,
  type RunningServer,
} from '../helpers/server-process.js';

const TOKEN = 'secret';

/** The origin's image bytes: a size that differs per id, so exact sizes are checked. */
const imageBytes = (id: string) => Buffer.alloc(1000 + id.length * 37, id);

let root: string;
let sandbox: Sandbox;
let origin: LocalHttpServer;
let managed: RunningServer;
let unmanaged: RunningServer;
/** Answers nothing and counts requests: proves that a command made no request. */
let silent: LocalHttpServer;
let silentRequests = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-cli-remote-'));
  sandbox = await createSandbox();
  // Ids starting "img-" exist. Ids starting "gone-" exist but their data cannot be fetched
  // (the server checks with HEAD before queueing), so queueing one keeps it queued. Every
  // other id is a 404, which the server refuses to queue.
  origin = await startHttpServer((request, response) => {
    const id = (request.url ?? '').slice(1);
    if (id.startsWith('gone-')) return void response.writeHead(request.method === 'HEAD' ? 200 : 503).end();
    if (!id.startsWith('img-')) return void response.writeHead(404).end('not found');
    const bytes = imageBytes(id);
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes);
  });
  silent = await startHttpServer(() => {
    silentRequests += 1;
  });
  const common = ['--origin', `${origin.url}/{id}`, '--maintenance-interval', '0'];
  [managed, unmanaged] = await Promise.all([
    startImgcacheServer([...common, '--dir', join(root, 'managed'), '--admin-token', TOKEN]),
    startImgcacheServer([...common, '--dir', join(root, 'unmanaged')]),
  ]);
});

afterAll(async () => {
  await Promise.all([managed?.stop(), unmanaged?.stop(), origin?.close(), silent?.close()]);
  await sandbox?.cleanup();
  await rm(root, { recursive: true, force: true });
});

/** Starts each test from an empty server cache and queue (through the API itself). */
beforeEach(async () => {
  const response = await fetch(`${managed.url}/v2/cache`, { method: 'DELETE', headers: { 'x-auth-token': TOKEN } });
  expect(response.status).toBe(204);
});

const remote = (args: readonly string[], options?: Parameters<Sandbox['run']>[1]) =>
  sandbox.run(['--url', managed.url, '--token', TOKEN, ...args], options);
const remoteJson = async (args: readonly string[]) => {
  const result = await remote(['--json', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
};

/** Waits (at most 10 s) until the server's prefetcher has cached every id. */
async function waitUntilCached(ids: readonly string[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${managed.url}/v2/cached_images`, { headers: { 'x-auth-token': TOKEN } });
    const { cached_images } = (await response.json()) as { cached_images: { image_id: string }[] };
    if (ids.every((id) => cached_images.some((image) => image.image_id === id))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not cache ${ids.join(', ')} within 10 s`);
}

describe('managing a running server with --url', () => {
  // Before: "cannot reach …: bad port", as Node's fetch refuses the WHATWG bad ports.
  it('manages a server listening on a port that fetch() refuses (6666 and the other WHATWG "bad ports")', async (context) => {
    const port = await freeBadPort();
    if (port === undefined) return context.skip('every WHATWG bad port tried is taken on 127.0.0.1 here');
    const onBadPort = await startImgcacheServer([
      '--origin',
      `${origin.url}/{id}`,
      '--maintenance-interval',
      '0',
      '--dir',
      join(root, 'bad-port'),
      '--admin-token',
      TOKEN,
      '--port',
      String(port),
    ]);
    try {
      expect(onBadPort.url).toBe(`http://127.0.0.1:${port}`);
      const result = await sandbox.run(['--url', onBadPort.url, '--token', TOKEN, '--json', 'list-queued']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ queuedImages: [] });
    } finally {
      await onBadPort.stop();
    }
  });

  it('queues images, which the server prefetches; list-cached shows exact bytes and ISO times', async () => {
    const startedAt = Date.now();
    expect(await remoteJson(['queue-image', 'img-alpha', 'img-b'])).toEqual({
      results: [
        { imageId: 'img-alpha', queued: true },
        { imageId: 'img-b', queued: true },
      ],
    });
    await waitUntilCached(['img-alpha', 'img-b']);

    const { cachedImages } = await remoteJson(['list-cached']);
    expect(cachedImages.map((image: { imageId: string }) => image.imageId).sort()).toEqual(['img-alpha', 'img-b']);
    for (const image of cachedImages) {
      expect(image).toEqual({
        imageId: image.imageId,
        size: imageBytes(image.imageId).length,
        hits: 0,
        lastAccessed: expect.any(String),
        lastModified: expect.any(String),
        checksum: null,
      });
      for (const time of [image.lastAccessed, image.lastModified]) {
        expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        // The server's clock is this machine's; allow a second for rounding to epoch seconds.
        expect(Date.parse(time)).toBeGreaterThanOrEqual(startedAt - 1000);
        expect(Date.parse(time)).toBeLessThanOrEqual(Date.now() + 1000);
      }
    }

    const human = await remote(['list-cached']);
    expect(human.code).toBe(0);
    const total = imageBytes('img-alpha').length + imageBytes('img-b').length;
    expect(human.stdout).toContain(`Found 2 cached images (${formatSize(total)}):`);
    expect(human.stdout).toMatch(
      new RegExp(`^img-alpha +${formatSize(imageBytes('img-alpha').length)} +0 +just now +just now$`, 'm'),
    );

    expect(await remote(['queue-image', 'img-b'])).toMatchObject({
      code: 0,
      stdout: 'Did not queue image img-b: already cached.\n',
    });
  });

  it('queue-image of an id the origin does not know: exit 1 naming the image, nothing queued', async () => {
    const result = await remote(['queue-image', 'no-such-image']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot queue image no-such-image: the server's origin does not know it");
    expect(await remoteJson(['list-queued'])).toEqual({ queuedImages: [] });
  });

  it('lists and deletes queue entries', async () => {
    // The origin has no such images, so the prefetch fails and they stay queued.
    await remoteJson(['queue-image', 'gone-1', 'gone-2']);
    expect(await remoteJson(['list-queued'])).toEqual({ queuedImages: ['gone-1', 'gone-2'] });
    const human = await remote(['list-queued']);
    expect(human.stdout).toBe('Found 2 queued images (oldest first):\n#  ID\n1  gone-1\n2  gone-2\n');
    expect(await remote(['queue-image', 'gone-1'])).toMatchObject({
      code: 0,
      stdout: 'Did not queue image gone-1: already queued.\n',
    });

    expect(await remoteJson(['delete-queued-image', 'gone-1', 'never-queued'])).toEqual({
      results: [
        { imageId: 'gone-1', deleted: true },
        { imageId: 'never-queued', deleted: false },
      ],
    });
    expect(await remoteJson(['list-queued'])).toEqual({ queuedImages: ['gone-2'] });
  });

  it('deletes cached images and leaves queue entries alone', async () => {
    await remoteJson(['queue-image', 'img-c', 'gone-3']);
    await waitUntilCached(['img-c']);
    const result = await remote(['delete-cached-image', 'img-c', 'never-cached']);
    expect(result).toMatchObject({
      code: 0,
      stdout: 'Deleted cached image img-c.\nImage never-cached was not cached.\n',
    });
    expect(await remote(['list-cached'])).toMatchObject({ code: 0, stdout: 'No cached images.\n' });
    expect(await remoteJson(['list-queued'])).toEqual({ queuedImages: ['gone-3'] });
  });

  it('delete-all-* keep the confirmation rules and report the counts', async () => {
    await remoteJson(['queue-image', 'img-d', 'img-e', 'gone-4']);
    await waitUntilCached(['img-d', 'img-e']);

    const refused = await remote(['delete-all-cached-images']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Refusing to delete all cached images without confirmation');

    const env = { ...sandbox.env, IMGCACHE_URL: managed.url, IMGCACHE_TOKEN: TOKEN };
    const declined = await runInTerminal(['delete-all-queued-images'], env, '[y/N]', 'n\r');
    expect(declined.code).toBe(0);
    expect(declined.output).toContain(`Delete the 1 queued image on ${managed.url}/?`);
    expect(declined.output).toContain('Not deleting any queued images.');
    expect(await remoteJson(['list-queued'])).toEqual({ queuedImages: ['gone-4'] });

    const size = imageBytes('img-d').length + imageBytes('img-e').length;
    const accepted = await runInTerminal(['delete-all-cached-images'], env, '[y/N]', 'y\r');
    expect(accepted.code).toBe(0);
    expect(accepted.output).toContain(`Delete all 2 cached images (${formatSize(size)}) on ${managed.url}/?`);
    expect(accepted.output).toContain('Deleted 2 cached images.');

    expect(await remoteJson(['delete-all-queued-images', '--force'])).toEqual({ deleted: 1 });
    expect(await remote(['delete-all-queued-images', '-f'])).toMatchObject({
      code: 0,
      stdout: 'Deleted 0 queued images.\n',
    });
    expect(await remoteJson(['list-cached'])).toEqual({ cachedImages: [] });
  });

  it('takes the URL and token from the environment or the config file, flags first', async () => {
    await remoteJson(['queue-image', 'gone-5']);
    const fromEnv = await sandbox.run(['--json', 'list-queued'], {
      env: { IMGCACHE_URL: managed.url, IMGCACHE_TOKEN: TOKEN },
    });
    expect(JSON.parse(fromEnv.stdout)).toEqual({ queuedImages: ['gone-5'] });

    const config = join(root, 'remote.json');
    await writeFile(config, JSON.stringify({ url: managed.url, token: 'stale-token' }));
    const envTokenWins = await sandbox.run(['--config', config, '--json', 'list-queued'], {
      env: { IMGCACHE_TOKEN: TOKEN },
    });
    expect(JSON.parse(envTokenWins.stdout)).toEqual({ queuedImages: ['gone-5'] });
    const fileToken = await sandbox.run(['--config', config, 'list-queued']);
    expect(fileToken).toMatchObject({ code: 1, stderr: expect.stringContaining('not authorised: check --token') });

    // A --dir flag means the local directory even when the environment names a server.
    const local = await sandbox.run(['--dir', join(root, 'local'), '--json', 'list-queued'], {
      env: { IMGCACHE_URL: managed.url },
    });
    expect(JSON.parse(local.stdout)).toEqual({ queuedImages: [] });
  });
});

describe('remote errors', () => {
  it.each([
    ['a wrong token', ['--token', 'wrong']],
    ['no token', []],
  ])('%s: exit 1, "not authorised", no stack trace', async (_case, tokenArgs) => {
    const result = await sandbox.run(['--url', managed.url, ...tokenArgs, 'list-cached']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^imgcache: error: not authorised: check --token \(the server answered 40[13]: .+\)\n$/,
    );
    expect(result.stdout).toBe('');
  });

  it('a server without --admin-token: exit 1 naming the missing management API', async () => {
    const result = await sandbox.run(['--url', unmanaged.url, '--token', TOKEN, 'queue-image', 'img-f']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the server has no management API (start it with --admin-token)');
  });

  it('--scope cluster against a single node: exit 1 saying it is not in a cluster, never blaming the admin token', async () => {
    for (const args of [
      ['prune', '--scope', 'cluster'],
      ['list-cached', '--scope', 'cluster'],
    ]) {
      const result = await sandbox.run(['--url', managed.url, '--token', TOKEN, ...args]);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain('not in a cluster (start it with --cluster)');
      expect(result.stderr).not.toContain('--admin-token');
    }
  });

  it('a server that is down: exit 1, "cannot reach"', async () => {
    const url = await unusedUrl();
    const result = await sandbox.run(['--url', url, '--token', TOKEN, 'list-queued']);
    expect(result).toMatchObject({ code: 1, stderr: `imgcache: error: cannot reach ${url}/: connection refused\n` });
  });

  it('a server that does not answer: exit 1 after --timeout', async () => {
    const before = silentRequests;
    const result = await sandbox.run(['--url', silent.url, '--timeout', '1', 'list-cached']);
    expect(result).toMatchObject({
      code: 1,
      stderr: `imgcache: error: no answer from ${silent.url}/ within 1 s (raise --timeout to wait longer)\n`,
    });
    expect(silentRequests).toBe(before + 1);
  });

  it.each([
    ['queue-image', 'ok-id', '../etc'],
    ['delete-cached-image', 'bad id'],
    ['delete-queued-image', 'ok-id', ''],
  ])('%s rejects invalid ids before any request (exit 1)', async (...args) => {
    const before = silentRequests;
    const result = await sandbox.run(['--url', silent.url, '--timeout', '1', ...args]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^imgcache: error: Invalid image id /);
    expect(silentRequests).toBe(before);
  });

  it('local-only commands refuse a server URL with exit 2, before touching anything', async () => {
    const before = silentRequests;
    const localOnly = [
      ['cache-image', 'img-g', join(root, 'no-such-file')],
      ['get', 'img-g', '-o', join(root, 'out')],
      ['prune', '--dry-run'],
      ['clean'],
      ['verify'],
      ['stats'],
      ['prefetch', '--origin', `${origin.url}/{id}`],
      ['import-glance', join(root, 'glance')],
      ['demo'],
    ];
    for (const args of localOnly) {
      const result = await sandbox.run(['--url', silent.url, ...args]);
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr).toContain(
        `imgcache: error: ${args[0]} needs a local cache directory (--dir); it cannot work on the server at ${silent.url}/`,
      );
    }
    expect(silentRequests).toBe(before);
    expect(existsSync(sandbox.dir)).toBe(false);
  });

  it.each([
    [['--url', 'ftp://cache.internal/', 'list-cached'], {}, /--url.*not an http:\/\/ or https:\/\/ URL/],
    [['--url', 'http://cache.internal:9393', '--dir', '/tmp/x', 'list-cached'], {}, /either --dir .* or --url/],
    [['--url', 'http://cache.internal:9393', '--timeout', '0', 'list-cached'], {}, /--timeout/],
    [['list-cached'], { IMGCACHE_URL: 'not a url' }, /IMGCACHE_URL.*is not a URL/],
  ])('usage errors exit 2: %j %j', async (args, env, message) => {
    const result = await sandbox.run(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
