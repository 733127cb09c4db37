import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomImage, startHarness, waitFor, type Harness } from './helpers/harness.js';
import { send, sha256 } from './helpers/http-client.js';

const PREFIX = '/_imgcache/';
const CONF = fileURLToPath(new URL('../../../deploy/nginx/imgcache.conf', import.meta.url));

async function cachedHarness(): Promise<{ h: Harness; data: Buffer }> {
  const h = await startHarness({ public: true, accelRedirect: PREFIX });
  const data = randomImage(256 * 1024 + 5);
  h.origin.add('img', { data });
  const miss = await send(h.url('/v2/images/img/file'));
  expect(miss.headers['x-cache']).toBe('MISS');
  await waitFor(async () => h.server.cache.isCached('img'));
  return { h, data };
}

async function metric(h: Harness, pattern: RegExp): Promise<number> {
  const text = (await send(h.url('/metrics'))).body.toString();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

describe('--accel-redirect: hits handed to nginx', () => {
  let h: Harness;
  let data: Buffer;

  beforeAll(async () => {
    ({ h, data } = await cachedHarness());
  });
  afterAll(() => h.stop());

  it('answers an unconditional GET hit with X-Accel-Redirect, the validators and no body, and counts it', async () => {
    const before = await metric(h, /^imgcache_served_bytes_total\{source="offload"\} (\d+)/m);
    const hit = await send(h.url('/v2/images/img/file'));
    expect(hit.status).toBe(200);
    expect(hit.headers['x-accel-redirect']).toBe(`${PREFIX}img`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.etag).toMatch(/^"/);
    expect(hit.headers['last-modified']).toBeDefined();
    expect(hit.body.length).toBe(0);
    expect(await metric(h, /^imgcache_served_bytes_total\{source="offload"\} (\d+)/m)).toBe(before + data.length);
    await waitFor(async () => (await h.server.cache.getHitCount('img')) >= 1);
  });

  it('offloads a Range GET (nginx applies the range), but answers 416 itself', async () => {
    const ranged = await send(h.url('/v2/images/img/file'), { headers: { range: 'bytes=10-19' } });
    expect(ranged.headers['x-accel-redirect']).toBe(`${PREFIX}img`);
    const unsatisfiable = await send(h.url('/v2/images/img/file'), {
      headers: { range: `bytes=${data.length + 10}-` },
    });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers['x-accel-redirect']).toBeUndefined();
  });

  it('sends the body itself for HEAD, conditional requests and the fallback header', async () => {
    const head = await send(h.url('/v2/images/img/file'), { method: 'HEAD' });
    expect(head.headers['x-accel-redirect']).toBeUndefined();
    expect(Number(head.headers['content-length'])).toBe(data.length);
    const { etag } = head.headers;
    const notModified = await send(h.url('/v2/images/img/file'), { headers: { 'if-none-match': String(etag) } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers['x-accel-redirect']).toBeUndefined();
    const cases: Record<string, string>[] = [
      { 'if-match': String(etag) },
      { 'if-range': String(etag), range: 'bytes=0-9' },
      { 'x-imgcache-accel': 'off' },
    ];
    for (const headers of cases) {
      const direct = await send(h.url('/v2/images/img/file'), { headers });
      expect(direct.headers['x-accel-redirect'], JSON.stringify(headers)).toBeUndefined();
      expect(direct.body.length, JSON.stringify(headers)).toBe(headers.range ? 10 : data.length);
    }
  });

  // Before: the proxy fallback sent these to the origin.
  it('answers 404 itself for any path under the internal prefix, never asking the origin', async () => {
    const seen = h.origin.seen.length;
    for (const path of ['/_imgcache/x', `${PREFIX}img`, '/%5Fimgcache/x', '/v2/../_imgcache/x', '/_imgcache']) {
      const answer = await send(h.url(path));
      expect(answer.status, path).toBe(404);
      expect(JSON.parse(answer.body.toString()).error.message, path).toMatch(/internal location/);
    }
    expect(h.origin.seen.slice(seen)).toEqual([]);
  });

  it('never offloads a miss, and never a hit the origin refuses', async () => {
    const refusing = await startHarness({ public: false, accelRedirect: PREFIX });
    try {
      const image = randomImage(4096);
      refusing.origin.add('secret', { data: image, allowedTokens: ['good'] });
      const miss = await send(refusing.url('/v2/images/secret/file'), { headers: { 'x-auth-token': 'good' } });
      expect(miss.headers['x-accel-redirect']).toBeUndefined();
      expect(sha256(miss.body)).toBe(sha256(image));
      await waitFor(async () => refusing.server.cache.isCached('secret'));
      const refused = await send(refusing.url('/v2/images/secret/file'), { headers: { 'x-auth-token': 'bad' } });
      expect(refused.status).toBe(403);
      expect(refused.headers['x-accel-redirect']).toBeUndefined();
      const allowed = await send(refusing.url('/v2/images/secret/file'), { headers: { 'x-auth-token': 'good' } });
      expect(allowed.headers['x-accel-redirect']).toBe(`${PREFIX}secret`);
    } finally {
      await refusing.stop();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const nginxFound = spawnSync('nginx', ['-v']).status === 0;
if (!nginxFound)
  console.warn(
    'accel-redirect: nginx is not installed (apt-get install nginx-light); the deploy/nginx/imgcache.conf tests are skipped',
  );

describe.skipIf(!nginxFound)('deploy/nginx/imgcache.conf in a real nginx', () => {
  let h: Harness;
  let data: Buffer;
  let work: string;
  let nginx: ChildProcess;
  let front: string;
  /** The same configuration over an empty cache directory: every offload finds no file. */
  let frontWithoutFiles: string;

  beforeAll(async () => {
    ({ h, data } = await cachedHarness());
    work = await mkdtemp(join(tmpdir(), 'imgcache-nginx-'));
    await mkdir(join(work, 'temp'));
    await mkdir(join(work, 'empty', 'images'), { recursive: true });
    const [port, emptyPort] = [await freePort(), await freePort()];
    const template = await readFile(CONF, 'utf8');
    const site = (listen: number, dir: string, upstream: string) =>
      template
        .replaceAll('@LISTEN@', `127.0.0.1:${listen}`)
        .replaceAll('@UPSTREAM@', new URL(h.server.url).host)
        .replaceAll('@CACHE_DIR@', dir)
        .replaceAll('upstream imgcache {', `upstream ${upstream} {`)
        .replaceAll('http://imgcache', `http://${upstream}`);
    await writeFile(
      join(work, 'site.conf'),
      site(port, h.dir, 'imgcache') + site(emptyPort, join(work, 'empty'), 'imgcache_empty'),
    );
    frontWithoutFiles = `http://127.0.0.1:${emptyPort}`;
    const temp = join(work, 'temp');
    await writeFile(
      join(work, 'nginx.conf'),
      `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
error_log ${work}/error.log warn;
pid ${work}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${temp}; proxy_temp_path ${temp}; fastcgi_temp_path ${temp}; uwsgi_temp_path ${temp}; scgi_temp_path ${temp};
  include ${work}/site.conf;
}
`,
    );
    nginx = spawn('nginx', ['-p', work, '-c', join(work, 'nginx.conf')], { stdio: 'ignore' });
    front = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await send(`${front}/healthz`).catch(() => null))?.status === 200);
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await h?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('sends the whole image with the validators imgcache-server gives a direct hit', async () => {
    const direct = await send(h.url('/v2/images/img/file'), { headers: { 'x-imgcache-accel': 'off' } });
    const viaNginx = await send(`${front}/v2/images/img/file`);
    expect(viaNginx.status).toBe(200);
    expect(sha256(viaNginx.body)).toBe(sha256(data));
    expect(viaNginx.headers['x-accel-redirect']).toBeUndefined();
    expect(viaNginx.headers.etag).toBe(direct.headers.etag);
    expect(viaNginx.headers['last-modified']).toBe(direct.headers['last-modified']);
    expect(viaNginx.headers['x-cache']).toBe('HIT');
    expect(viaNginx.headers['content-type']).toBe('application/octet-stream');
  });

  // Before: nginx's own Accept-Ranges came with the one imgcache-server had put on the offload answer.
  it('answers a hit with one Accept-Ranges header, whole or ranged', async () => {
    for (const headers of [{}, { range: 'bytes=0-9' }] as Record<string, string>[]) {
      const answer = await send(`${front}/v2/images/img/file`, { headers });
      // Node's parser joins repeated headers: two would read "bytes, bytes".
      expect(answer.headers['accept-ranges'], JSON.stringify(headers)).toBe('bytes');
    }
  });

  it('answers a Range request with the right bytes, and a conditional one through imgcache-server', async () => {
    const ranged = await send(`${front}/v2/images/img/file`, { headers: { range: 'bytes=1000-1999' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 1000-1999/${data.length}`);
    expect(ranged.body.equals(data.subarray(1000, 2000))).toBe(true);
    const etag = String(ranged.headers.etag);
    expect((await send(`${front}/v2/images/img/file`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const matched = await send(`${front}/v2/images/img/file`, { headers: { 'if-match': etag } });
    expect(matched.status).toBe(200);
    expect(sha256(matched.body)).toBe(sha256(data));
  });

  it('keeps the cache files internal: a client cannot request them directly', async () => {
    expect((await send(`${front}${PREFIX}img`)).status).toBe(404);
  });

  it('asks imgcache-server for the body when nginx cannot open the file', async () => {
    const hitsBefore = h.origin.count(h.origin.dataRequests, 'img');
    const answer = await send(`${frontWithoutFiles}/v2/images/img/file`, { headers: { range: 'bytes=5-9' } });
    expect(answer.status).toBe(206);
    expect(answer.body.equals(data.subarray(5, 10))).toBe(true);
    expect(answer.headers['x-cache']).toBe('HIT');
    expect(h.origin.count(h.origin.dataRequests, 'img')).toBe(hitsBefore);
  });

  it('serves an image whose file was removed behind the server, fetching it again', async () => {
    await unlink(join(h.dir, 'images', 'img'));
    const answer = await send(`${front}/v2/images/img/file`);
    expect(answer.status).toBe(200);
    expect(sha256(answer.body)).toBe(sha256(data));
  });
});
