#!/usr/bin/env node
// Server benchmark: imgcache-server (built, dist/bin.js) against nginx proxy_cache and plain
// Node servers, side by side in one run, with ratios against the targets in
// bench/targets.mjs. Everything runs on 127.0.0.1 with ephemeral ports, each server in a
// child process of its own; every child is stopped at the end, on error, on a signal, or
// when the run overstays its time limit. Run `pnpm build` first.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { guard, startImgcache, startPlain, stopAll } from './children.mjs';
import { herdBench } from './herd.mjs';
import { HIT_FILES, hitsBench } from './hits.mjs';
import { loadGenerator } from './load.mjs';
import { memoryBench } from './memory.mjs';
import { MISS_FILE, missesBench } from './misses.mjs';
import { nginxVersion, startNginx, startNginxOffload } from './nginx.mjs';
import { MiB } from './format.mjs';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/**
 * Seconds per load run and rounds (hits, misses); for the concurrent misses, the lone misses
 * timed and whether the static server's time for the same crowd is measured; image sizes. On an idle machine here the full plan takes about 3 minutes and the
 * quick one under a minute. `limitSeconds` bounds the whole server benchmark.
 */
const PLANS = {
  full: {
    seconds: 4,
    rounds: 3,
    warmupSeconds: 1,
    missSeconds: 4,
    missRounds: 3,
    solos: 3,
    herdReference: true,
    herdSize: 64 * MiB,
    herdTimeoutMs: 60_000,
    largeSize: 2048 * MiB,
    largeTimeoutMs: 240_000,
    limitSeconds: 900,
  },
  quick: {
    seconds: 1,
    rounds: 3,
    warmupSeconds: 0,
    missSeconds: 1,
    missRounds: 2,
    solos: 1,
    herdReference: false,
    herdSize: 16 * MiB,
    herdTimeoutMs: 30_000,
    largeSize: 256 * MiB,
    largeTimeoutMs: 90_000,
    limitSeconds: 300,
  },
};

/** Random files for the origin's directory; returns the sha256 of each. */
async function writeFiles(dir, files) {
  await mkdir(dir, { recursive: true });
  const digests = {};
  for (const { name, size } of files) {
    const data = randomBytes(size);
    await writeFile(join(dir, name), data);
    digests[name] = createHash('sha256').update(data).digest('hex');
  }
  return digests;
}

/**
 * Runs the whole server benchmark and prints its tables.
 * @returns {Promise<object>} every figure (see the section modules), for --json and the targets
 */
export async function serverBench({ quick = false } = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first`);
  const plan = quick ? PLANS.quick : PLANS.full;
  const started = performance.now();
  const work = await mkdtemp(join(process.env.IMGCACHE_BENCH_DIR ?? tmpdir(), 'imgcache-bench-server-'));
  const disarm = guard('server benchmark', plan.limitSeconds, () => rmSync(work, { recursive: true, force: true }));
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  try {
    const filesDir = join(work, 'files');
    const herdFile = { name: `img${plan.herdSize / MiB}m`, size: plan.herdSize };
    const files = [...HIT_FILES, MISS_FILE, herdFile].filter(
      (file, i, all) => all.findIndex((other) => other.name === file.name) === i,
    );
    const digests = await writeFiles(filesDir, files);
    const origin = await startPlain('static', filesDir);
    const staticServer = await startPlain('static', filesDir);
    const proxy = await startPlain('proxy', origin.url);
    const nginxName = nginxVersion();
    const nginx = nginxName ? await startNginx(origin.url, work) : null;
    const imgcache = {};
    for (const algorithm of ['sha256', 'md5', 'sha512'])
      imgcache[algorithm] = await startImgcache({
        originUrl: origin.url,
        dir: join(work, `cache-${algorithm}`),
        checksumAlgorithm: algorithm,
      });
    // The deployment behind nginx: nginx sends hits with sendfile, imgcache-server decides.
    const offloadDir = join(work, 'cache-offload');
    const offloaded = nginx
      ? await startImgcache({
          originUrl: origin.url,
          dir: offloadDir,
          extraArgs: ['--accel-redirect', '/_imgcache/'],
          label: 'offload',
        })
      : null;
    const offload = offloaded ? await startNginxOffload(offloaded.url, offloadDir, work) : null;
    const load = await loadGenerator(work);
    const contender = (server) => ({ url: server.url, pids: server.workers ?? [server.pid] });

    console.log(`\nimgcache-server against its rivals — 127.0.0.1, node ${process.version}, load: ${load.name}`);
    console.log(
      nginx
        ? `nginx: ${nginxName}, one worker, proxy_cache (proxy_cache_lock on), sendfile on, access log on (imgcache-server logs each request too). MB = 10^6 bytes.`
        : 'nginx: skipped (nginx not installed; apt-get install nginx-light to add it). MB = 10^6 bytes.',
    );
    const hits = await hitsBench({
      servers: {
        imgcache: contender(imgcache.sha256),
        nginx: nginx && contender(nginx),
        static: contender(staticServer),
        offload: offload && offloaded && { url: offload.url, pids: [...offload.workers, offloaded.pid] },
      },
      load,
      seconds: Math.max(plan.seconds, load.minSeconds),
      rounds: plan.rounds,
      warmupSeconds: plan.warmupSeconds,
    });
    await offload?.stop();
    await offloaded?.stop();
    console.log(`(${elapsed()})`);
    const misses = await missesBench({
      proxy: contender(proxy),
      nginx: nginx && contender(nginx),
      imgcache: Object.fromEntries(
        Object.entries(imgcache).map(([algorithm, server]) => [algorithm, contender(server)]),
      ),
      load,
      seconds: Math.max(plan.missSeconds, load.minSeconds),
      rounds: plan.missRounds,
    });
    for (const algorithm of ['md5', 'sha512']) {
      await imgcache[algorithm].stop();
      await rm(join(work, `cache-${algorithm}`), { recursive: true, force: true });
    }
    console.log(`(${elapsed()})`);
    const herd = await herdBench({
      imgcache: imgcache.sha256,
      staticServer,
      originUrl: origin.url,
      file: { ...herdFile, sha256: digests[herdFile.name] },
      solos: plan.solos,
      reference: plan.herdReference,
      timeoutMs: plan.herdTimeoutMs,
    });
    console.log(`(${elapsed()})`);
    const memory = await memoryBench({
      work,
      filesDir,
      originUrl: origin.url,
      size: plan.largeSize,
      timeoutMs: plan.largeTimeoutMs,
    });
    console.log(`(${elapsed()})`);
    return {
      loadGenerator: load.name,
      nginx: nginxName,
      plan: quick ? 'quick' : 'full',
      hits,
      misses,
      herd,
      memory,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    disarm();
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await serverBench({ quick: process.argv.includes('--quick') });
}
