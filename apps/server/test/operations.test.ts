import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeOrigin } from '@imgcache/test-origin';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(name.length + 1));
}

describe('operations routes', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('reports liveness and readiness', async () => {
    h = await startHarness();
    expect((await send(h.url('/healthz'))).status).toBe(200);
    const ready = await send(h.url('/readyz'));
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body.toString())).toEqual({
      status: 'ready',
      checks: { cache_dir: 'ok', driver: 'ok', origin: 'ok' },
    });
  });

  it('is not ready when the origin is unreachable', async () => {
    const origin = await new FakeOrigin().start();
    h = await startHarness({}, origin);
    await origin.stop();
    const ready = await send(h.url('/readyz'));
    expect(ready.status).toBe(503);
    const body = JSON.parse(ready.body.toString());
    expect(body.checks.cache_dir).toBe('ok');
    expect(body.checks.origin).not.toBe('ok');
    expect((await send(h.url('/healthz'))).status).toBe(200);
  });

  it('exposes Prometheus metrics that move with traffic', async () => {
    h = await startHarness({ maxSize: 5_000_000 });
    h.origin.add('metric-img', { data: randomImage(50_000) });
    const before = (await send(h.url('/metrics'))).body.toString();
    for (const name of [
      'imgcache_requests_total',
      'imgcache_served_bytes_total',
      'imgcache_origin_fetches_total',
      'imgcache_coalesced_waiters',
      'imgcache_evictions_total',
      'imgcache_cache_size_bytes',
      'imgcache_cache_max_size_bytes',
      'imgcache_work_bytes',
      'imgcache_prefetch_queue_length',
      'imgcache_bypassed_total',
    ]) {
      expect(before).toContain(`# TYPE ${name} `);
    }
    expect(metricValue(before, 'imgcache_requests_total{result="miss"}')).toBe(0);
    expect(metricValue(before, 'imgcache_cache_max_size_bytes')).toBe(5_000_000);
    await send(h.url('/v2/images/metric-img/file'));
    await send(h.url('/v2/images/metric-img/file'));
    await h.server.cache.queueImage('queued-one');
    const after = (await send(h.url('/metrics'))).body.toString();
    expect(metricValue(after, 'imgcache_requests_total{result="miss"}')).toBe(1);
    expect(metricValue(after, 'imgcache_requests_total{result="hit"}')).toBe(1);
    expect(metricValue(after, 'imgcache_served_bytes_total{source="cache"}')).toBe(50_000);
    expect(metricValue(after, 'imgcache_served_bytes_total{source="origin"}')).toBe(50_000);
    expect(metricValue(after, 'imgcache_cache_size_bytes')).toBe(50_000);
    expect(metricValue(after, 'imgcache_prefetch_queue_length')).toBe(1);
  });

  it('runs maintenance: prune to budget, clean invalid files, prefetch with a failing image left queued', async () => {
    // One at a time: with two, the third image would find both others still in flight and be refused.
    h = await startHarness({ maxSize: 150_000, prefetchConcurrency: 1 });
    for (const id of ['p-1', 'p-2', 'p-3']) h.origin.add(id, { data: randomImage(60_000) });
    h.origin.add('p-broken', { data: randomImage(10_000), status: 500 });
    await h.server.cache.queueImage('p-broken');
    await h.server.cache.queueImage('p-1');
    await h.server.cache.queueImage('p-2');
    await h.server.cache.queueImage('p-3');
    await writeFile(join(h.dir, 'invalid', 'leftover~1-abc'), 'junk');
    await h.server.maintenance.run();
    // The broken image stays queued and did not stop the others.
    expect(await h.server.cache.getQueuedImages()).toEqual(['p-broken']);
    const cached = (await h.server.cache.getCachedImages()).map((image) => image.imageId);
    // Admission pruned the oldest image to fit the third: the budget holds two.
    expect(cached).toHaveLength(2);
    expect(await readdir(join(h.dir, 'invalid'))).toEqual([]);
    const metrics = (await send(h.url('/metrics'))).body.toString();
    expect(metricValue(metrics, 'imgcache_evictions_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'imgcache_prefetches_total{result="failed"}')).toBe(1);
    expect(metricValue(metrics, 'imgcache_cleaned_files_total{kind="invalid"}')).toBe(1);
  });

  it('shuts down cleanly while a fill is running: the fill is aborted and nothing is cached', async () => {
    h = await startHarness();
    let release!: () => void;
    let reached!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    h.origin.add('slow', {
      data: randomImage(1024 * 1024),
      gate: { afterBytes: 256 * 1024, release: new Promise((resolve) => (release = resolve)), reached },
    });
    const client = send(h.url('/v2/images/slow/file')).then(
      (response) => response.status,
      () => 'aborted',
    );
    await arrived;
    await h.server.close(100);
    release();
    // Reset mid-body, or an error status if no byte had been sent yet: never a complete 200.
    expect([502, 503, 'aborted']).toContain(await client);
    await waitFor(async () => (await readdir(join(h!.dir, 'incomplete'))).length === 0);
    expect(await readdir(join(h.dir, 'images'))).toEqual([]);
  });
});

describe('imgcache-server binary', () => {
  it('starts from flags and environment, logs its address, and exits 0 on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const origin = await new FakeOrigin().start();
    const dir = await mkdtemp(join(tmpdir(), 'imgcache-bin-'));
    const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
    const child = spawn(process.execPath, [bin, '--origin', origin.url, '--port', '0', '--dir', dir], {
      env: { ...process.env, IMGCACHE_ADMIN_TOKEN: 'from-env', IMGCACHE_MIN_FREE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      expect((await send(`${url}/healthz`)).status).toBe(200);
      expect((await send(`${url}/v2/cache`, { headers: { 'x-auth-token': 'from-env' } })).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await origin.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with a clear message for a bad flag', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
    const result = spawnSync(
      process.execPath,
      [bin, '--origin', 'http://127.0.0.1:1', '--dir', '/tmp/x', '--max-size', 'lots'],
      { encoding: 'utf8' },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Invalid --max-size');
  });
});
