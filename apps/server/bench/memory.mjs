// Peak resident memory of imgcache-server while several clients stream one large image,
// first as a miss (all join one fill), then as hits. The image must never be held in memory.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { printTable } from '../../../bench/lib.mjs';
import { describe, mark, target } from '../../../bench/targets.mjs';
import { startImgcache } from './children.mjs';
import { complete, download, originRequests, waitForHit } from './downloads.mjs';
import { MB, MiB, megabytes, millis } from './format.mjs';
import { rssBytes, watchPeakRss } from './proc-stats.mjs';

const flushDisk = () => spawnSync('sync', { timeout: 300_000 });

/** Writes `size` bytes as copies of one 64 MiB random block: incompressible, quick to make. */
async function writeLargeFile(path, size) {
  const block = randomBytes(64 * MiB);
  const handle = await open(path, 'w');
  try {
    for (let written = 0; written < size; written += block.length)
      await handle.write(block, 0, Math.min(block.length, size - written));
  } finally {
    await handle.close();
  }
  flushDisk();
}

async function phase(pid, url, clients, size, timeoutMs) {
  const watch = watchPeakRss(pid);
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, () => download(url, { timeoutMs })));
  const ms = Math.max(...results.map((result) => result.endMs)) - start;
  const { hwm, polled } = watch.stop();
  // The kernel updates VmHWM from per-thread counters lazily, so a poll can see a little more.
  const peak = hwm === null && polled === null ? null : Math.max(hwm ?? 0, polled ?? 0);
  return {
    ms,
    bytesPerSecond: (clients * size) / (ms / 1000),
    complete: results.filter((result) => complete(result, size)).length,
    xCache: [...new Set(results.map((result) => result.xCache))].join(', '),
    hwmBytes: hwm,
    polledBytes: polled,
    peakBytes: peak,
    peakMB: peak === null ? null : peak / MB,
  };
}

/** NODE_OPTIONS the shipped systemd unit sets (deploy/systemd), '' when it sets none. */
export function deployedNodeOptions() {
  const unit = readFileSync(
    fileURLToPath(new URL('../../../deploy/systemd/imgcache-server.service', import.meta.url)),
    'utf8',
  );
  return /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1]?.trim() ?? '';
}

/** Peak RSS of one fresh server (started with `nodeOptions`) over a miss then hits of `url`'s image. */
async function measure({ originUrl, dir, nodeOptions, label, clients, size, timeoutMs }) {
  const server = await startImgcache({ originUrl, dir, nodeOptions, label });
  try {
    const idle = rssBytes(server.pid);
    const id = `big-memory-${label}-${process.pid.toString(36)}`;
    const url = `${server.url}/v2/images/${id}/file`;
    const miss = await phase(server.pid, url, clients, size, timeoutMs);
    miss.originRequests = await originRequests(originUrl, id);
    const committed = await waitForHit(url, 60_000);
    flushDisk();
    const hit = await phase(server.pid, url, clients, size, timeoutMs);
    return { nodeOptions, idleMB: idle === null ? null : idle / MB, committed, miss, hit };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Measures peak RSS while `clients` stream a new `size`-byte image (a miss), then the same
 * image again (hits), in a fresh imgcache-server started as `node dist/bin.js`, then in one
 * started as the shipped deployment starts it (the systemd unit's NODE_OPTIONS: a smaller
 * V8 young generation). Prints the table.
 * @param {object} options `work` (scratch dir), `filesDir` (the origin's directory),
 *   `originUrl`, `size` in bytes, `clients`, `timeoutMs` per download
 * @returns {Promise<object>} the bare process's figures (`miss`, `hit`, `idleMB`…) and the
 *   deployed one's under `deployed` (null when the unit sets no NODE_OPTIONS)
 */
export async function memoryBench({ work, filesDir, originUrl, size, clients = 8, timeoutMs = 600_000 }) {
  const file = join(filesDir, 'big');
  await writeLargeFile(file, size);
  const options = { originUrl, clients, size, timeoutMs };
  try {
    const bare = await measure({ ...options, dir: join(work, 'cache-memory'), nodeOptions: '', label: 'bare' });
    const deployedOptions = deployedNodeOptions();
    const deployed = deployedOptions
      ? await measure({
          ...options,
          dir: join(work, 'cache-memory-deployed'),
          nodeOptions: deployedOptions,
          label: 'deployed',
        })
      : null;
    const row = (label, result, id) => [
      label,
      millis(result.ms),
      (result.bytesPerSecond / MB).toFixed(0),
      `${result.complete}/${clients}`,
      result.xCache,
      megabytes(result.peakBytes),
      `${describe(target(id))} ${mark(id, result.peakMB)}`,
    ];
    const rows = (figures, how, suffix) => [
      row(
        `${how}, miss: all join one fill (origin requests: ${figures.miss.originRequests})`,
        figures.miss,
        `server.rss.miss${suffix}`,
      ),
      row(
        `${how}, ${figures.committed ? 'hit' : 'hit (image not committed after 60 s)'}`,
        figures.hit,
        `server.rss.hit${suffix}`,
      ),
    ];
    printTable(
      `Peak RSS of imgcache-server while ${clients} clients stream one ${size / MiB} MiB image (a fresh process each, idle ${megabytes(bare.idleMB === null ? null : bare.idleMB * MB)}; peak: VmHWM reset before each phase, and VmRSS polled)`,
      ['process', 'time', 'MB/s (all clients)', 'complete', 'X-Cache', 'peak RSS', 'target'],
      [
        ...rows(bare, 'node dist/bin.js', ''),
        ...(deployed ? rows(deployed, `NODE_OPTIONS=${deployed.nodeOptions} (deploy/)`, '.deployed') : []),
      ],
    );
    if (bare.miss.hwmBytes === null)
      console.log('note: VmHWM could not be reset (clear_refs); peak RSS is the maximum of VmRSS polled every 50 ms.');
    return { size, clients, ...bare, deployed };
  } finally {
    await rm(file, { force: true });
  }
}
