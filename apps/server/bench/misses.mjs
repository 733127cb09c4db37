// Sequential misses: one connection, a new image id on every request, 32 MiB each, from a
// fast origin. imgcache-server (per checksum algorithm) against a plain streaming proxy and
// nginx proxy_cache's own miss path, in alternating rounds.
import { spawnSync } from 'node:child_process';
import { printTable } from '../../../bench/lib.mjs';
import { ratioCell } from '../../../bench/targets.mjs';
import { download } from './downloads.mjs';
import { MiB, ratio } from './format.mjs';
import { FIGURE_HEADERS, alternate, figureCells } from './rounds.mjs';

/** The origin file every miss is a new copy of. */
export const MISS_FILE = { name: 'img32m', size: 32 * MiB };

// Dirty pages one contender leaves (nginx does not fsync its cache files) would otherwise be
// flushed during the next one's run.
const flushDisk = () => spawnSync('sync', { timeout: 120_000 });

/** The value of one Prometheus gauge or counter summed over its labels, or null. */
async function metric(url, name) {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((match) =>
      Number(match[1]),
    );
    return values.length ? values.reduce((sum, value) => sum + value, 0) : null;
  } catch {
    return null;
  }
}

/**
 * Waits (at most `limitMs`) until no imgcache server is still filling an image: wrk cuts the
 * last request of a run, and a fill that goes on must not run into the next contender's turn.
 */
async function settle(servers, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  for (const server of servers) {
    while (Date.now() < deadline && ((await metric(server.url, 'imgcache_inflight_fills')) ?? 0) > 0)
      await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Measures misses and prints their table.
 * @param {object} options `proxy` and `nginx` (null when not installed): `{url, pids}`;
 *   `imgcache`: `{sha256, md5, sha512}` servers; `load`, `seconds`, `rounds`
 * @returns {Promise<object>} `rows`: each contender's summary, imgcache rows with `ratios`
 *   against the proxy and nginx (median bytes per second)
 */
export async function missesBench({ proxy, nginx, imgcache, load, seconds, rounds }) {
  const algorithms = Object.keys(imgcache);
  const contenders = [
    { key: 'proxy', label: 'plain Node proxy', ...proxy },
    nginx && { key: 'nginx', label: 'nginx proxy_cache (miss)', ...nginx },
    ...algorithms.map((algorithm) => ({
      key: `imgcache-${algorithm}`,
      label: `imgcache-server, ${algorithm}`,
      algorithm,
      ...imgcache[algorithm],
    })),
  ].filter(Boolean);
  const notes = [];
  for (const contender of contenders) {
    const check = await download(`${contender.url}/v2/images/${MISS_FILE.name}-check/file`);
    if (check.status !== 200 || check.bytes !== MISS_FILE.size)
      throw new Error(
        `${contender.label}: a miss answered ${check.status} with ${check.bytes} bytes (${check.error ?? 'no error'})`,
      );
    if (contender.key !== 'proxy' && check.xCache !== 'MISS')
      notes.push(`${contender.label} answered a new image with X-Cache ${check.xCache}, not MISS.`);
  }
  const servers = algorithms.map((algorithm) => imgcache[algorithm]);
  const beforeRun = async () => {
    await settle(servers);
    flushDisk();
  };
  const stats = await alternate(contenders, {
    load,
    ...MISS_FILE,
    unique: true,
    seconds,
    connections: 1,
    rounds,
    beforeRun,
  });
  await beforeRun();
  const rows = [];
  const table = [];
  for (const contender of contenders) {
    /** @type {Record<string, any>} */
    const row = { key: contender.key, label: contender.label, ...stats[contender.key] };
    if (contender.algorithm) {
      row.checksumAlgorithm = contender.algorithm;
      row.ratios = {
        proxy: ratio(row.bytesPerSecond, stats.proxy.bytesPerSecond),
        nginx: ratio(row.bytesPerSecond, stats.nginx?.bytesPerSecond),
      };
      // A miss the cache refused (disk guard, budget) is proxied: the row would not be a miss path.
      row.bypassed = await metric(contender.url, 'imgcache_bypassed_total');
      row.fillFailures = await metric(contender.url, 'imgcache_fill_failures_total');
      if (row.bypassed) notes.push(`${contender.label}: ${row.bypassed} downloads bypassed the cache.`);
      if (row.fillFailures) notes.push(`${contender.label}: ${row.fillFailures} fills failed.`);
    }
    rows.push(row);
    const cells = [contender.label, ...figureCells(row)];
    if (!row.ratios) table.push([...cells, '', '']);
    else if (contender.algorithm === 'sha256')
      table.push([
        ...cells,
        ratioCell('server.miss32m.proxy', row.ratios.proxy),
        nginx ? ratioCell('server.miss32m.nginx', row.ratios.nginx) : 'skipped',
      ]);
    else table.push([...cells, row.ratios.proxy.toFixed(2), nginx ? row.ratios.nginx.toFixed(2) : 'skipped']);
  }
  if (!nginx) table.splice(1, 0, ['nginx proxy_cache (miss)', '–', '–', '–', '–', '', 'skipped (nginx not installed)']);
  printTable(
    `Misses: ${MISS_FILE.size / MiB} MiB, one connection, a new image id per request; median of ${rounds} rounds × ${seconds} s, order rotated, disk synced before each run`,
    ['server', ...FIGURE_HEADERS, 'imgcache / proxy (target)', 'imgcache / nginx (target)'],
    table,
  );
  for (const note of notes) console.log(`note: ${note}`);
  return { size: MISS_FILE.size, seconds, rounds, rows };
}
