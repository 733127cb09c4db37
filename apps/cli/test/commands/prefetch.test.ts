import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, createSandbox, runInTerminal, type Sandbox } from '../helpers/run-cli.js';
import { freeBadPort } from '../helpers/server-process.js';

interface Origin {
  url: string;
  requests: { path: string; token: string | undefined; acceptEncoding: string | undefined }[];
  maxInFlight: number;
  /** Ids the origin answers with HTTP 500. */
  failing: Set<string>;
  /** Runs before an image's response is sent. */
  beforeRespond?: (imageId: string) => Promise<void>;
  close(): Promise<void>;
}

const images = new Map<string, Buffer>([
  ['good-1', randomBytes(300_000)],
  ['good-2', randomBytes(100_000)],
  ['with-sha', randomBytes(50_000)],
  ['no-length', randomBytes(70_000)],
  ['broken', randomBytes(10)],
  ['liar', randomBytes(20_000)],
  ['truncated', randomBytes(40_000)],
]);

/** A real HTTP origin on 127.0.0.1 that serves /images/<id> with the headers each case needs. */
async function startOrigin(port = 0): Promise<Origin> {
  let inFlight = 0;
  const origin: Omit<Origin, 'url' | 'close'> = { requests: [], maxInFlight: 0, failing: new Set(['broken']) };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    origin.maxInFlight = Math.max(origin.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const id = decodeURIComponent((req.url ?? '').replace(/^\/images\//, ''));
    origin.requests.push({
      path: req.url ?? '',
      token: req.headers['x-auth-token'] as string | undefined,
      acceptEncoding: req.headers['accept-encoding'],
    });
    const bytes = images.get(id);
    // A short pause keeps several downloads in flight at once, so the bound is exercised.
    const pause = new Promise((resolve) => setTimeout(resolve, 30)).then(() => origin.beforeRespond?.(id));
    void pause.then(() => {
      if (id === 'stall') {
        res.writeHead(200, { 'content-length': 1_000_000 });
        return res.write(Buffer.alloc(1000));
      }
      if (!bytes) return res.writeHead(404).end('no such image');
      if (origin.failing.has(id)) return res.writeHead(500).end('origin exploded');
      const md5 = createHash('md5').update(bytes).digest('base64');
      if (id === 'with-sha') {
        res.writeHead(200, {
          'content-length': bytes.length,
          'x-checksum': `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
        });
        return res.end(bytes);
      }
      if (id === 'no-length') {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        return res.end(bytes);
      }
      if (id === 'liar') {
        res.writeHead(200, {
          'content-length': bytes.length,
          'content-md5': createHash('md5').update('something else').digest('base64'),
        });
        return res.end(bytes);
      }
      if (id === 'truncated') {
        res.writeHead(200, { 'content-length': bytes.length, 'content-md5': md5 });
        res.write(bytes.subarray(0, 1000));
        return setTimeout(() => res.destroy(), 20);
      }
      res.writeHead(200, { 'content-length': bytes.length, 'content-md5': md5 });
      res.end(bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return Object.assign(origin, {
    url: `http://127.0.0.1:${bound}/images/{id}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

let sandbox: Sandbox;
let origin: Origin;
beforeEach(async () => {
  sandbox = await createSandbox();
  origin = await startOrigin();
});
afterEach(async () => {
  await origin.close();
  await sandbox.cleanup();
});

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('prefetch', () => {
  it('downloads every queued image with bounded concurrency; failures stay queued and exit 1', async () => {
    expect((await sandbox.run(['queue-image', ...images.keys()])).code).toBe(0);
    const result = await sandbox.run([
      '--json',
      'prefetch',
      '--origin',
      origin.url,
      '--concurrency',
      '2',
      '-H',
      'X-Auth-Token: s3cret',
    ]);
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ origin: origin.url, concurrency: 2, queued: 7, skipped: [], interrupted: false });
    expect(summary.fetched.map((item: { imageId: string }) => item.imageId).sort()).toEqual([
      'good-1',
      'good-2',
      'no-length',
      'with-sha',
    ]);
    for (const item of summary.fetched) expect(item.size).toBe(images.get(item.imageId)!.length);
    const failed = Object.fromEntries(
      summary.failed.map((item: { imageId: string; error: string; code?: string }) => [item.imageId, item]),
    );
    expect(Object.keys(failed).sort()).toEqual(['broken', 'liar', 'truncated']);
    expect(failed.broken.error).toBe('origin answered HTTP 500 Internal Server Error');
    expect(failed.liar).toMatchObject({ code: 'ERR_IMGCACHE_CHECKSUM_MISMATCH' });
    expect(failed.liar.error).toContain('Checksum verification failed for image liar');
    // Plain progress lines on stderr when it is not a terminal.
    expect(result.stderr).toContain('broken: failed: origin answered HTTP 500 Internal Server Error\n');
    expect(result.stderr).toMatch(/good-1: cached \(293 KiB\)\n/);
    expect(result.stderr).toContain('imgcache: error: 3 images failed to prefetch and stay queued.');

    expect(origin.maxInFlight).toBeLessThanOrEqual(2);
    expect(origin.requests).toHaveLength(7);
    for (const request of origin.requests)
      expect(request).toMatchObject({ token: 's3cret', acceptEncoding: 'identity' });

    const { cachedImages } = await sandbox.json(['list-cached']);
    expect(
      Object.fromEntries(
        cachedImages.map((image: { imageId: string; checksum: string }) => [image.imageId, image.checksum]),
      ),
    ).toEqual({
      'good-1': sha256(images.get('good-1')!),
      'good-2': sha256(images.get('good-2')!),
      'no-length': sha256(images.get('no-length')!),
      'with-sha': sha256(images.get('with-sha')!),
    });
    expect(new Set((await sandbox.json(['list-queued'])).queuedImages)).toEqual(
      new Set(['broken', 'liar', 'truncated']),
    );
    expect(await readdir(join(sandbox.dir, 'incomplete'))).toEqual([]);

    // Once the origin recovers, a second run fetches what is left of the queue.
    origin.failing.clear();
    images.set('liar', Buffer.from('still lying'));
    const second = await sandbox.run(['prefetch', '--origin', origin.url]);
    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(/^Prefetched 1 of 3 queued images \(10 B\); 0 skipped, 2 failed\.\n/);
    expect(second.stdout).toMatch(/FAILED\s+ERROR\n/);
    expect(new Set((await sandbox.json(['list-queued'])).queuedImages)).toEqual(new Set(['liar', 'truncated']));
  });

  it('exits 0 when everything is fetched, and drops the marker of an image cached meanwhile', async () => {
    await sandbox.run(['queue-image', 'good-1']);
    await sandbox.run(['queue-image', 'good-2']);
    // While good-1 downloads, another process (a server on this directory) caches good-2.
    origin.beforeRespond = async (imageId) => {
      if (imageId !== 'good-1') return;
      const other = await sandbox.runBin(['cache-image', 'good-2', '-'], { input: images.get('good-2')! });
      expect(other.code, other.stderr).toBe(0);
    };
    const result = await sandbox.run(['prefetch', '--origin', origin.url, '--concurrency', '1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      'Prefetched 1 of 2 queued images (293 KiB); 1 skipped, 0 failed.\n  SKIPPED  REASON\n  good-2   already cached\n',
    );
    expect(origin.requests.map((request) => request.path)).toEqual(['/images/good-1']);
    expect(await sandbox.json(['list-queued'])).toEqual({ queuedImages: [] });
  });

  it('does nothing, successfully, with an empty queue', async () => {
    expect(await sandbox.run(['prefetch', '--origin', origin.url])).toMatchObject({
      code: 0,
      stdout: 'Prefetched 0 of 0 queued images (0 B); 0 skipped, 0 failed.\n',
    });
    expect(origin.requests).toEqual([]);
  });

  // Before: "fetch failed: bad port", as Node's fetch refuses the WHATWG bad ports.
  it('downloads from an origin on a port that fetch() refuses (6666 and the other WHATWG "bad ports")', async (context) => {
    const port = await freeBadPort();
    if (port === undefined) return context.skip('every WHATWG bad port tried is taken on 127.0.0.1 here');
    const onBadPort = await startOrigin(port);
    try {
      await sandbox.run(['queue-image', 'good-2']);
      const result = await sandbox.run(['--json', 'prefetch', '--origin', onBadPort.url]);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).fetched).toEqual([{ imageId: 'good-2', size: images.get('good-2')!.length }]);
      expect(onBadPort.requests.map((request) => request.path)).toEqual(['/images/good-2']);
    } finally {
      await onBadPort.close();
    }
  });

  it('reports an unreachable origin per image', async () => {
    await sandbox.run(['queue-image', 'good-1']);
    await origin.close();
    const raw = await sandbox.run(['--json', 'prefetch', '--origin', origin.url]);
    expect(raw.code).toBe(1);
    expect(JSON.parse(raw.stdout).failed[0].error).toMatch(
      /^cannot reach the origin: connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
    );
  });

  it.each([
    [['--origin', 'http://127.0.0.1:1/images/'], /must contain \{id\}/],
    [['--origin', 'ftp://example/{id}'], /must be http or https/],
    [['--origin', 'http://x/{id}', '--concurrency', '0'], /must be a whole number from 1 to 64/],
    [['--origin', 'http://x/{id}', '-H', 'no colon'], /use "Name: value"/],
    [[], /required option '--origin <url>' not specified/],
  ])('rejects bad options %j with exit 2', async (args, message) => {
    const result = await sandbox.run(['prefetch', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('stops on Ctrl-C (SIGINT): exit 130, the image stays queued, no partial file is left', async () => {
    await sandbox.run(['queue-image', 'stall']);
    const child = spawn(process.execPath, [BIN, '--json', 'prefetch', '--origin', origin.url], {
      env: { ...process.env, ...sandbox.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Wait (bounded) until the origin is serving the download, then interrupt.
    for (let attempt = 0; attempt < 200 && origin.requests.length === 0; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    expect(origin.requests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(JSON.parse(stdout)).toMatchObject({
      interrupted: true,
      fetched: [],
      failed: [{ imageId: 'stall', error: 'interrupted' }],
    });
    expect(await sandbox.json(['list-queued'])).toEqual({ queuedImages: ['stall'] });
    expect(await readdir(join(sandbox.dir, 'incomplete'))).toEqual([]);
    expect(await sandbox.json(['list-cached'])).toEqual({ cachedImages: [] });
  });

  it('draws progress bars on stderr when it is a terminal', async () => {
    await sandbox.run(['queue-image', 'good-1', 'broken']);
    const { code, output } = await runInTerminal(['prefetch', '--origin', origin.url], sandbox.env, '', '');
    expect(code).toBe(1);
    expect(output).toMatch(/[░█]{4,}/);
    expect(output).toMatch(/\d+\/2/);
    expect(output).toContain('good-1: cached (293 KiB)');
    expect(output).toContain('broken: failed: origin answered HTTP 500');
  });
});
