import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { logCollector, randomImage, startHarness, waitFor, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

type Line = Record<string, unknown>;

describe('request log', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  async function logged(): Promise<{ lines: Line[]; requests: () => Line[] }> {
    const collector = logCollector();
    h = await startHarness({}, undefined, { logger: { level: 'info', stream: collector.stream } });
    return { lines: collector.lines, requests: () => collector.lines.filter((line) => line.msg === 'request') };
  }

  /** Waits for the log line of the `n`th request (1-based) and returns it. */
  async function nth(requests: () => Line[], n: number): Promise<Line> {
    await waitFor(() => requests().length >= n);
    return requests()[n - 1]!;
  }

  it('logs one line per request with method, path, status, bytes, duration, X-Cache and image id, at info with an ISO time', async () => {
    const { requests } = await logged();
    const data = randomImage(30_000);
    h!.origin.add('logged', { data });
    await send(h!.url('/v2/images/logged/file'));
    await send(h!.url('/v2/images/logged/file'));
    await send(h!.url('/v2/images/logged/file'), { method: 'HEAD' });
    await send(h!.url('/v2/images/logged/file'), { headers: { range: 'bytes=100-199' } });
    await send(h!.url('/v2/images/unknown/file?x=1'));
    await send(h!.url('/healthz'));
    await send(h!.url('/v2/cache/nodes/held-here'));
    await send(h!.url('/v2/cache/cluster/commands'));
    const [miss, hit, head, range, missing, health, nodes, commands] = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => nth(requests, n)),
    );
    // The cluster routes: the image of "which nodes hold it", and no image for the commands.
    expect(nodes).toMatchObject({ path: '/v2/cache/nodes/held-here', imageId: 'held-here' });
    expect(commands).toMatchObject({ path: '/v2/cache/cluster/commands' });
    expect(commands!.imageId).toBeUndefined();
    expect(miss).toMatchObject({
      level: 30,
      method: 'GET',
      path: '/v2/images/logged/file',
      status: 200,
      bytes: 30_000,
      xCache: 'MISS',
      imageId: 'logged',
    });
    expect(hit).toMatchObject({ method: 'GET', status: 200, bytes: 30_000, xCache: 'HIT', imageId: 'logged' });
    expect(head).toMatchObject({ method: 'HEAD', status: 200, bytes: 0, xCache: 'HIT' });
    expect(range).toMatchObject({ status: 206, bytes: 100, xCache: 'HIT' });
    expect(missing).toMatchObject({ path: '/v2/images/unknown/file', status: 404, imageId: 'unknown' });
    expect(health).toMatchObject({ method: 'GET', path: '/healthz', status: 200 });
    expect(health!.imageId).toBeUndefined();
    expect(health!.xCache).toBeUndefined();
    for (const line of requests()) {
      expect(typeof line.durationMs).toBe('number');
      expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
      expect(String(line.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(line.aborted).toBeUndefined();
    }
    expect(requests()).toHaveLength(8);
  });

  it('logs a hit whose client went away with the bytes actually handed over and aborted: true', async () => {
    const { requests } = await logged();
    const data = randomImage(16 * 1024 * 1024);
    h!.origin.add('big', { data });
    await send(h!.url('/v2/images/big/file'));
    await new Promise<void>((resolve, reject) => {
      const outgoing = request(h!.url('/v2/images/big/file'), { agent: false }, (response) => {
        response.once('data', () => {
          outgoing.destroy();
          resolve();
        });
      });
      outgoing.on('error', (error) => (outgoing.destroyed ? undefined : reject(error)));
      outgoing.end();
    });
    const line = await nth(requests, 2);
    expect(line).toMatchObject({ status: 200, xCache: 'HIT', imageId: 'big', aborted: true });
    expect(line.bytes as number).toBeGreaterThan(0);
    expect(line.bytes as number).toBeLessThan(data.length);
  });

  it('logs nothing per request below info', async () => {
    const collector = logCollector();
    h = await startHarness({}, undefined, { logger: { level: 'warn', stream: collector.stream } });
    await send(h.url('/healthz'));
    expect(collector.lines.filter((line) => line.msg === 'request')).toEqual([]);
  });
});
