import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawOrigin, originGate } from '@imgcache/test-origin';
import { parseArguments } from '../src/cli-options.js';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { download, send, sha256 } from './helpers/http-client.js';

const MiB = 1024 * 1024;
/** Short limits so a stalled origin is given up within about a second. */
const SHORT = { originConnectTimeout: 1, originHeaderTimeout: 1, originIdleTimeout: 1 };

/**
 * A listening socket on 127.0.0.1 whose process is stopped, with its accept queue full:
 * the kernel drops further SYNs, so a new connection neither succeeds nor fails.
 */
async function unreachableListener(): Promise<{ port: number; stop: () => void }> {
  const script =
    "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);process.kill(process.pid,'SIGSTOP')})";
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout!.once('data', (line) => resolve(Number(String(line)))),
  );
  const fillers: Socket[] = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => undefined));
  return {
    port,
    stop: () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}

describe('origin timeouts', () => {
  let h: Harness | undefined;
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('answers 504 when the origin never sends its response headers', async () => {
    const raw = await new RawOrigin().start();
    cleanups.push(() => raw.stop());
    raw.images.set('silent', { data: randomImage(1000), contentLength: true, checksum: false, stallHeaders: true });
    h = await startHarness({ ...SHORT, origin: `${raw.url}/blobs/{id}`, public: true });
    const response = await send(h.url('/v2/images/silent/file'));
    expect(response.status).toBe(504);
    expect(JSON.parse(response.body.toString()).error.code).toBe(504);
    expect(await h.server.cache.isCached('silent')).toBe(false);
  });

  it('answers 504 when the origin cannot be connected to, for the data and for Glance metadata', async () => {
    const listener = await unreachableListener();
    cleanups.push(() => listener.stop());
    // A template origin: the data request is the first one. A Glance origin: the metadata request is.
    for (const origin of [`http://127.0.0.1:${listener.port}/blobs/{id}`, `http://127.0.0.1:${listener.port}`]) {
      h = await startHarness({ ...SHORT, origin, public: true });
      const response = await send(h.url('/v2/images/far/file'));
      expect(response.status).toBe(504);
      await h.stop();
      h = undefined;
    }
  });

  it('fails a fill whose origin stalls mid-body: every client is reset, nothing is cached, and the next request starts afresh', async () => {
    h = await startHarness(SHORT);
    const data = randomImage(4 * MiB);
    const { spec: gate, release, arrived: stalled } = originGate(MiB);
    const image = h.origin.add('stalls', { data, chunkSize: 256 * 1024, gate });
    cleanups.push(() => release());
    let streaming!: () => void;
    const firstByte = new Promise<void>((resolve) => (streaming = resolve));
    const leader = download(h.url('/v2/images/stalls/file'), { onFirstByte: () => streaming() });
    await stalled;
    await firstByte;
    const joined = download(h.url('/v2/images/stalls/file'));
    const outcomes = await Promise.allSettled([leader, joined]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(await h.server.cache.isCached('stalls')).toBe(false);
    await waitFor(async () => (await readdir(join(h!.dir, 'incomplete'))).length === 0);
    // The origin recovers: the next request is a new fill, not a join of the stalled one.
    delete image.gate;
    const fresh = await download(h.url('/v2/images/stalls/file'));
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.sha256).toBe(sha256(data));
    expect(h.origin.count(h.origin.dataRequests, 'stalls')).toBe(2);
  });
});

describe('origin timeout flags', () => {
  it('default to 10, 30 and 30 seconds and read IMGCACHE_ORIGIN_* variables', () => {
    const base = ['--origin', 'http://glance:9292', '--dir', '/tmp/c'];
    expect(parseArguments(base)).toMatchObject({
      originConnectTimeout: 10,
      originHeaderTimeout: 30,
      originIdleTimeout: 30,
    });
    process.env.IMGCACHE_ORIGIN_IDLE_TIMEOUT = '5';
    try {
      expect(parseArguments([...base, '--origin-connect-timeout', '2', '--origin-header-timeout', '0'])).toMatchObject({
        originConnectTimeout: 2,
        originHeaderTimeout: 0,
        originIdleTimeout: 5,
      });
    } finally {
      delete process.env.IMGCACHE_ORIGIN_IDLE_TIMEOUT;
    }
    expect(() => parseArguments([...base, '--origin-idle-timeout', '-1'])).toThrow(/--origin-idle-timeout/);
    expect(() => parseArguments([...base, '--origin-header-timeout', '1.5'])).toThrow(/--origin-header-timeout/);
  });
});
