import { request } from 'node:http';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { originGate } from '@imgcache/test-origin';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { download, send, sha256, type DigestResponse } from './helpers/http-client.js';

const MiB = 1024 * 1024;

/** Starts a GET, resolves once the first body bytes arrived, then destroys the connection. */
function readFirstBytesThenDisconnect(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { agent: false }, (response) => {
      response.once('data', (chunk: Buffer) => {
        outgoing.destroy();
        resolve(chunk.length);
      });
    });
    outgoing.on('error', (error) => {
      if (!outgoing.destroyed) reject(error);
    });
    outgoing.end();
  });
}

describe('single-flight misses', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('serves 50 concurrent requests for an uncached 32 MiB image from one origin request, streaming to every waiter before the fill ends', async () => {
    h = await startHarness();
    const data = randomImage(32 * MiB);
    const held = originGate(4 * MiB);
    h.origin.add('big', { data, gate: held.spec, chunkSize: 256 * 1024 });
    let firstBytes = 0;
    let finishedBeforeAnyWaiterStreamed = false;
    let downloads: Promise<DigestResponse>[] = [];
    const allStreaming = new Promise<void>((resolve) => {
      const clients = 50;
      const onFirstByte = () => {
        if (h!.origin.finished.includes('big')) finishedBeforeAnyWaiterStreamed = true;
        if (++firstBytes === clients) resolve();
      };
      downloads = Array.from({ length: clients }, () => download(h!.url('/v2/images/big/file'), { onFirstByte }));
    });
    // The origin holds the rest of the image until all 50 clients received bytes: a server
    // that waited for the fill to end before streaming would never get there.
    await allStreaming;
    expect(h.origin.finished).not.toContain('big');
    held.release();
    const results = await Promise.all(downloads);
    expect(finishedBeforeAnyWaiterStreamed).toBe(false);
    expect(h.origin.count(h.origin.dataRequests, 'big')).toBe(1);
    const expected = sha256(data);
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.length).toBe(data.length);
      expect(result.sha256).toBe(expected);
    }
    const caches = results.map((result) => result.headers['x-cache']);
    expect(caches.filter((value) => value === 'MISS')).toHaveLength(1);
    expect(caches.filter((value) => value === 'COALESCED')).toHaveLength(49);
    await waitFor(() => h!.server.cache.isCached('big'));
    const metrics = (await send(h.url('/metrics'))).body.toString();
    expect(metrics).toMatch(/imgcache_requests_total\{result="coalesced"\} 49/);
    expect(metrics).toMatch(/imgcache_origin_fetches_total\{purpose="download"\} 1/);
  }, 60_000);

  it('keeps filling for the others when the first client disconnects, and caches the image', async () => {
    h = await startHarness();
    const data = randomImage(2 * MiB);
    const held = originGate(512 * 1024);
    h.origin.add('leaver', { data, gate: held.spec });
    await readFirstBytesThenDisconnect(h.url('/v2/images/leaver/file'));
    let streaming!: () => void;
    const secondStreaming = new Promise<void>((resolve) => (streaming = resolve));
    const second = download(h.url('/v2/images/leaver/file'), { onFirstByte: () => streaming() });
    await secondStreaming;
    held.release();
    const result = await second;
    expect(result.headers['x-cache']).toBe('COALESCED');
    expect(result.sha256).toBe(sha256(data));
    await waitFor(() => h!.server.cache.isCached('leaver'));
    expect(h.origin.count(h.origin.dataRequests, 'leaver')).toBe(1);
    const hit = await send(h.url('/v2/images/leaver/file'));
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(sha256(hit.body)).toBe(sha256(data));
  });

  it('aborts every client response on a mid-stream origin failure and caches nothing', async () => {
    h = await startHarness();
    const data = randomImage(MiB);
    const held = originGate(512 * 1024);
    h.origin.add('broken', { data, gate: held.spec, failAfterBytes: 512 * 1024 });
    let streams = 0;
    let bothStreaming!: () => void;
    const streaming = new Promise<void>((resolve) => (bothStreaming = resolve));
    const onFirstByte = () => {
      if (++streams === 2) bothStreaming();
    };
    const first = download(h.url('/v2/images/broken/file'), { onFirstByte });
    await held.arrived;
    const second = download(h.url('/v2/images/broken/file'), { onFirstByte });
    await streaming;
    held.release();
    const outcomes = await Promise.allSettled([first, second]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(await h.server.cache.isCached('broken')).toBe(false);
    await waitFor(async () => (await readdir(join(h!.dir, 'incomplete'))).length === 0);
    expect(await readdir(join(h.dir, 'images'))).toEqual([]);
  });

  it('aborts the client response when the checksum does not match, and caches nothing', async () => {
    h = await startHarness();
    const data = randomImage(MiB);
    const held = originGate(512 * 1024);
    h.origin.add('corrupt', { data, wrongChecksum: true, gate: held.spec });
    let streaming!: () => void;
    const firstByte = new Promise<void>((resolve) => (streaming = resolve));
    const client = download(h.url('/v2/images/corrupt/file'), { onFirstByte: () => streaming() });
    await firstByte;
    held.release();
    await expect(client).rejects.toThrow();
    expect(await h.server.cache.isCached('corrupt')).toBe(false);
    expect(await readdir(join(h.dir, 'images'))).toEqual([]);
    const metrics = (await send(h.url('/metrics'))).body.toString();
    expect(metrics).toMatch(/imgcache_fill_failures_total\{reason="checksum_mismatch"\} 1/);
  });

  it('proxies without caching when another process is writing the image', async () => {
    h = await startHarness();
    const data = randomImage(100_000);
    h.origin.add('elsewhere', { data });
    // A live writer's claim, as another server process on the same directory would leave it.
    await writeFile(join(h.dir, 'incomplete', `elsewhere~${process.ppid}-abc123`), '');
    const result = await send(h.url('/v2/images/elsewhere/file'));
    expect(result.status).toBe(200);
    expect(result.headers['x-cache']).toBe('BYPASS');
    expect(result.body.equals(data)).toBe(true);
    expect(await h.server.cache.isCached('elsewhere')).toBe(false);
  });
});
