// Hits: imgcache-server against nginx proxy_cache and a minimal Node static server, all
// serving the same files from the page cache, in alternating rounds; and, beside them,
// imgcache-server behind nginx with --accel-redirect (deploy/nginx), where nginx sends the file.
import { printTable } from '../../../bench/lib.mjs';
import { ratioCell } from '../../../bench/targets.mjs';
import { download, waitForHit } from './downloads.mjs';
import { MiB, ratio } from './format.mjs';
import { FIGURE_HEADERS, alternate, figureCells } from './rounds.mjs';

const CASES = [
  {
    key: '1MiB',
    label: 'hit 1 MiB',
    name: 'img1m',
    size: MiB,
    connections: 16,
    targets: { nginx: 'server.hit1m.nginx', static: 'server.hit1m.static' },
  },
  {
    key: '64MiB',
    label: 'hit 64 MiB',
    name: 'img64m',
    size: 64 * MiB,
    connections: 4,
    targets: { nginx: 'server.hit64m.nginx', static: 'server.hit64m.static' },
  },
];

/** Image names (files in the origin's directory) and sizes the hit rows need. */
export const HIT_FILES = CASES.map(({ name, size }) => ({ name, size }));

/**
 * Measures hits and prints their table.
 * @param {object} options `servers` ({imgcache, nginx and offload (null when nginx is not
 *   installed), static}, each `{url, pids}`; offload's pids are nginx's worker and the
 *   imgcache-server behind it), `load`, `seconds`, `rounds`, `warmupSeconds` (per contender, unmeasured)
 * @returns {Promise<Record<string, object>>} per case key: the contenders' summaries and the
 *   ratios imgcache/nginx, imgcache/static and offload/nginx (median bytes per second)
 */
export async function hitsBench({ servers, load, seconds, rounds, warmupSeconds }) {
  const contenders = [
    { key: 'imgcache', label: 'imgcache-server', ...servers.imgcache },
    servers.nginx && { key: 'nginx', label: 'nginx proxy_cache', ...servers.nginx },
    { key: 'static', label: 'static Node server', ...servers.static },
    servers.offload && { key: 'offload', label: 'nginx → imgcache --accel-redirect', ...servers.offload },
  ].filter(Boolean);
  const figures = {};
  const rows = [];
  const notes = [];
  for (const hitCase of CASES) {
    for (const contender of contenders) {
      // The first request fills the cache; once committed, the image must be served whole as a hit.
      const url = `${contender.url}/v2/images/${hitCase.name}/file`;
      await download(url);
      if (contender.key !== 'static' && !(await waitForHit(url, 30_000)))
        notes.push(`${contender.label} did not answer ${hitCase.name} as a hit within 30 s of a first request.`);
      const check = await download(url);
      if (check.status !== 200 || check.bytes !== hitCase.size)
        throw new Error(
          `${contender.label}: ${url} answered ${check.status} with ${check.bytes} bytes (${check.error ?? 'no error'})`,
        );
    }
    const run = { load, name: hitCase.name, size: hitCase.size, seconds, connections: hitCase.connections };
    if (warmupSeconds)
      for (const contender of contenders) await load.run({ ...run, url: contender.url, seconds: warmupSeconds });
    const stats = await alternate(contenders, { ...run, rounds });
    const ratios = {
      nginx: ratio(stats.imgcache.bytesPerSecond, stats.nginx?.bytesPerSecond),
      static: ratio(stats.imgcache.bytesPerSecond, stats.static.bytesPerSecond),
      offloadToNginx: ratio(stats.offload?.bytesPerSecond, stats.nginx?.bytesPerSecond),
    };
    figures[hitCase.key] = {
      size: hitCase.size,
      connections: hitCase.connections,
      seconds,
      rounds,
      contenders: stats,
      ratios,
    };
    const label = `${hitCase.label}, ${hitCase.connections} conn.`;
    rows.push([label, 'imgcache-server', ...figureCells(stats.imgcache), '']);
    if (stats.nginx)
      rows.push(['', 'nginx proxy_cache', ...figureCells(stats.nginx), ratioCell(hitCase.targets.nginx, ratios.nginx)]);
    else rows.push(['', 'nginx proxy_cache', '–', '–', '–', '–', 'skipped (nginx not installed)']);
    rows.push([
      '',
      'static Node server',
      ...figureCells(stats.static),
      ratioCell(hitCase.targets.static, ratios.static),
    ]);
    if (stats.offload)
      rows.push([
        '',
        'nginx → imgcache --accel-redirect',
        ...figureCells(stats.offload),
        `nginx proxy_cache × ${ratios.offloadToNginx?.toFixed(2)}`,
      ]);
  }
  printTable(
    `Hits: median of ${rounds} rounds × ${seconds} s, order rotated each round (CPU/request: CPU time of the server process, nginx's worker, per image served, and its share spent in the kernel)`,
    ['case', 'server', ...FIGURE_HEADERS, 'imgcache / this (target)'],
    rows,
  );
  if (contenders.some((contender) => contender.key === 'offload')) {
    console.log(
      "The offload row is imgcache-server behind nginx (deploy/nginx/imgcache.conf): nginx sends the file, imgcache-server authorises and counts; its CPU is both processes'.",
    );
  }
  for (const note of notes) console.log(`note: ${note}`);
  return figures;
}
