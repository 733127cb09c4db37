#!/usr/bin/env node
// Takes the README's dashboard screenshot from a real run: a built server (dist/) in front of
// a small origin of random images, both on 127.0.0.1 with ephemeral ports, under a few
// minutes of skewed downloads (with a cache flush near the end, to show the hit ratio drop),
// one slow download still filling and one queued image the origin refuses. Then headless
// Chromium logs in and saves a full-page PNG. Every request goes to loopback; the run ends
// by itself.
//
//   node apps/server/scripts/dashboard-screenshot.mjs [seconds=200] [out=docs/dashboard.png]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../dist/server.js';

const seconds = Number(process.argv[2] ?? 200);
const output = resolve(process.argv[3] ?? 'docs/dashboard.png');
const token = randomBytes(18).toString('base64url');
const executablePath = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
if (!executablePath) throw new Error('no chromium on PATH (node scripts/ensure-test-tools.mjs as root installs it)');

// Sizes in MiB; the slow one stays in progress when the screenshot is taken.
const SIZES = {
  'ubuntu-24.04-server': 48,
  'centos-stream-10': 40,
  'debian-13-genericcloud': 36,
  'rocky-9.5': 30,
  'opensuse-leap-15.6': 28,
  'fedora-41-cloud': 24,
  'freebsd-14.2': 12,
  'arch-2025.11': 8,
  'alpine-3.21': 2,
  'cirros-0.6.3': 1,
};
const SLOW = 'windows-2022-eval';
const REFUSED = 'broken-upload';
const images = new Map(
  Object.entries({ ...SIZES, [SLOW]: 64 }).map(([id, mib]) => [id, randomBytes(mib * 1024 * 1024)]),
);

const origin = createServer((req, res) => {
  const id = decodeURIComponent(req.url.slice(1));
  const data = images.get(id);
  if (id === REFUSED || !data) return res.writeHead(id === REFUSED ? 500 : 404).end();
  res.writeHead(200, { 'content-length': data.length });
  if (req.method === 'HEAD') return res.end();
  if (id !== SLOW) return res.end(data);
  // 256 KiB every 400 ms: about 100 s for the whole image.
  let offset = 0;
  const timer = setInterval(() => {
    const end = offset + 256 * 1024;
    res.write(data.subarray(offset, end));
    offset = end;
    if (offset >= data.length) {
      clearInterval(timer);
      res.end();
    }
  }, 400);
  res.on('close', () => clearInterval(timer));
});
await new Promise((done) => origin.listen(0, '127.0.0.1', done));

const dir = mkdtempSync(join(tmpdir(), 'imgcache-screenshot-'));
const server = await startServer(
  {
    origin: `http://127.0.0.1:${origin.address().port}/{id}`,
    host: '127.0.0.1',
    port: 0,
    dir,
    driver: 'sqlite',
    maxSize: 256 * 1024 ** 2,
    minFree: { percent: 5 },
    stallTime: 86_400,
    checksumAlgorithm: 'sha256',
    public: true,
    authTtl: 60,
    prefetchConcurrency: 1,
    maintenanceInterval: 30,
    logLevel: 'silent',
    rangeMiss: 'fill',
    adminToken: token,
  },
  { logger: false },
);
const download = (id) =>
  new Promise((done) => {
    const outgoing = request(`${server.url}/v2/images/${id}/file`, (response) =>
      response.resume().on('end', done).on('error', done),
    );
    outgoing.on('error', done).end();
  });

// Zipf-like popularity: the first id is asked for most often.
const ids = Object.keys(SIZES).reverse();
const weights = ids.map((_, rank) => 1 / (rank + 1));
const total = weights.reduce((sum, weight) => sum + weight, 0);
const pick = () => {
  let x = Math.random() * total;
  for (const [rank, id] of ids.entries()) {
    x -= weights[rank];
    if (x <= 0) return id;
  }
  return ids[0];
};

await server.cache.queueImage(REFUSED);
const end = Date.now() + seconds * 1000;
let flushed = false;
while (Date.now() < end) {
  await Promise.all([download(pick()), download(pick())]);
  await new Promise((done) => setTimeout(done, 150));
  if (!flushed && Date.now() > end - 60_000) {
    flushed = true;
    await server.cache.deleteAllCachedImages();
  }
}
void download(SLOW);
await new Promise((done) => setTimeout(done, 6000));

const profile = mkdtempSync(join(tmpdir(), 'imgcache-chromium-'));
const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: flags,
  viewport: { width: 1280, height: 900 },
});
try {
  const page = await context.newPage();
  await page.goto(`${server.url}/dashboard`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${server.url}/dashboard`), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-loaded="true"]');
  await page.screenshot({ path: output, fullPage: true });
  console.log(`dashboard screenshot: ${output}`);
} finally {
  await context.close();
  await server.close(100);
  origin.closeAllConnections();
  origin.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
