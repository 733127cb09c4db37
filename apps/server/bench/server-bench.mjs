#!/usr/bin/env node
// Server benchmark: imgcache-server hits against a plain Node static file server on the same
// files, and misses against a plain streaming proxy without a cache, on 127.0.0.1 with
// autocannon. Every server runs in a child process of its own so the load generator does
// not share their event loop. Run `pnpm build` first (it starts dist/bin.js).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { nginxInstalled, startNginx } from './nginx.mjs';

const require = createRequire(import.meta.url);
// autocannon appends every response body to a string (PipelinedRequestsQueue#addBody), which
// caps it near 75 MiB/s here whatever the server does. This benchmark never reads bodies,
// so that bookkeeping is switched off; bytes are still counted from the socket.
const PipelinedRequestsQueue = require('autocannon/lib/pipelinedRequestsQueue.js');
PipelinedRequestsQueue.prototype.addBody = function addBody() {};
const autocannon = require('autocannon');

const MiB = 1024 * 1024;
const here = fileURLToPath(new URL('.', import.meta.url));

/** Starts a child process and resolves with the URL it reports once listening. */
function startChild(args, pattern) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start`)), 15_000);
    child.stdout.on('data', (chunk) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve({ url: match[1], stop: () => stopChild(child) });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

function stopChild(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** One autocannon run; `uniquePaths` gives every request its own image id (always a miss). */
async function load(url, name, { seconds, connections, uniquePaths }) {
  let counter = 0;
  const path = `/v2/images/${name}/file`;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      uniquePaths
        ? { method: 'GET', path, setupRequest: (request) => ({ ...request, path: `/v2/images/${name}-${++counter}${process.pid % 1000}/file` }) }
        : { method: 'GET', path },
    ],
  });
  const errors = result.errors + result.non2xx + result.timeouts;
  return { rps: result.requests.average, bytesPerSecond: result.throughput.average, errors };
}

function fmt(run) {
  return `${(run.bytesPerSecond / MiB).toFixed(0)} MiB/s, ${run.rps.toFixed(0)} req/s${run.errors ? ` (${run.errors} errors)` : ''}`;
}

function printTable(headers, rows) {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');
  console.log(line(headers));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** Runs the whole server benchmark and prints its table. */
export async function serverBench({ quick = false } = {}) {
  const seconds = quick ? 2 : 4;
  const work = await mkdtemp(join(process.env.IMGCACHE_BENCH_DIR ?? tmpdir(), 'imgcache-bench-server-'));
  const files = join(work, 'files');
  const cacheDir = join(work, 'cache');
  const children = [];
  try {
    await import('node:fs/promises').then(({ mkdir }) => mkdir(files));
    await writeFile(join(files, 'img1m'), randomBytes(MiB));
    await writeFile(join(files, 'img64m'), randomBytes(64 * MiB));
    const origin = await startChild([join(here, 'plain-servers.mjs'), 'static', files], /LISTENING (\S+)/);
    children.push(origin);
    const plainProxy = await startChild([join(here, 'plain-servers.mjs'), 'proxy', origin.url], /LISTENING (\S+)/);
    children.push(plainProxy);
    const imgcache = await startChild(
      [
        join(here, '..', 'dist', 'bin.js'),
        '--origin', `${origin.url}/v2/images/{id}/file`,
        '--port', '0',
        '--dir', cacheDir,
        '--max-size', '16G',
        '--min-free', '2G',
        '--public',
        '--maintenance-interval', '0',
        '--log-level', 'info',
      ],
      /"url":"(http:\/\/[^"]+)"/,
    );
    children.push(imgcache);
    // Warm the cache so the hit runs are hits.
    for (const name of ['img1m', 'img64m']) await fetch(`${imgcache.url}/v2/images/${name}/file`).then((response) => response.arrayBuffer());

    const rows = [];
    const nginx = nginxInstalled() ? await startNginx(origin.url, work) : null;
    if (nginx) {
      children.push(nginx);
      for (const name of ['img1m', 'img64m']) await fetch(`${nginx.url}/v2/images/${name}/file`).then((response) => response.arrayBuffer());
    }
    for (const [name, label, connections] of [
      ['img1m', '1 MiB', 16],
      ['img64m', '64 MiB', 4],
    ]) {
      const hit = await load(imgcache.url, name, { seconds, connections });
      const plain = await load(origin.url, name, { seconds, connections });
      const nginxHit = nginx ? await load(nginx.url, name, { seconds, connections }) : null;
      const nginxCell = nginxHit ? `${fmt(nginxHit)} (imgcache ${(hit.bytesPerSecond / nginxHit.bytesPerSecond).toFixed(2)}×)` : 'skipped (nginx not installed)';
      rows.push([`hit ${label}`, fmt(hit), `static: ${fmt(plain)}`, (hit.bytesPerSecond / plain.bytesPerSecond).toFixed(2), nginxCell]);
    }
    for (const [name, label, connections] of [
      ['img1m', '1 MiB', 8],
      ['img64m', '64 MiB', 2],
    ]) {
      const miss = await load(imgcache.url, name, { seconds, connections, uniquePaths: true });
      const plain = await load(plainProxy.url, name, { seconds, connections, uniquePaths: true });
      const nginxMiss = nginx ? await load(nginx.url, name, { seconds, connections, uniquePaths: true }) : null;
      const nginxCell = nginxMiss ? `${fmt(nginxMiss)} (imgcache ${(miss.bytesPerSecond / nginxMiss.bytesPerSecond).toFixed(2)}×)` : 'skipped (nginx not installed)';
      rows.push([`miss ${label}`, fmt(miss), `proxy: ${fmt(plain)}`, (miss.bytesPerSecond / plain.bytesPerSecond).toFixed(2), nginxCell]);
    }
    console.log(`\nimgcache-server (127.0.0.1, autocannon, ${seconds} s per run, node ${process.version})`);
    printTable(['case', 'imgcache-server', 'baseline', 'ratio', 'nginx proxy_cache'], rows);
    if (!nginx) console.log('nginx is not installed: its column is skipped (apt-get install nginx-light to add it).');
    else console.log('nginx: one worker, proxy_cache with proxy_cache_lock, sendfile on.');
  } finally {
    for (const child of children.reverse()) await child.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await serverBench({ quick: process.argv.includes('--quick') });
}
