// Many concurrent misses of one image: imgcache-server must fetch it from the origin once,
// give every client all of it, and keep the slowest client close to a lone client's time.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { printTable } from '../../../bench/lib.mjs';
import { describe, mark, target } from '../../../bench/targets.mjs';
import { complete, download, originRequests } from './downloads.mjs';
import { MiB, median, millis } from './format.mjs';

const flushDisk = () => spawnSync('sync', { timeout: 120_000 });
let herds = 0;

/** Starts `clients` downloads of `url` at once; the `hashed` ones also hash their bodies. */
async function crowd(url, clients, hashed, timeoutMs) {
  const every = Math.max(1, Math.floor(clients / hashed));
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      download(url, { hash: i % every === 0 && i / every < hashed, timeoutMs }),
    ),
  );
  return { results, slowestMs: Math.max(...results.map((result) => result.endMs)) - start };
}

/**
 * Measures `clients` concurrent misses of one new image against `solos` lone misses, and
 * (when `reference`) the static server's time for the same crowd; prints the table.
 * @param {object} options `imgcache` and `staticServer` (`{url}`), `originUrl` (the counting
 *   origin), `file` (`{name, size, sha256}` in the origin's directory), `clients`, `solos`,
 *   `hashed` (bodies checked by sha256), `timeoutMs` per download (a client that has not
 *   finished by then gives up and counts as incomplete, its time as the timeout)
 * @returns {Promise<object>} origin requests, bad bodies, the times (ms) and their ratio
 */
export async function herdBench({
  imgcache,
  staticServer,
  originUrl,
  file,
  clients = 100,
  solos = 3,
  hashed = 5,
  reference = true,
  timeoutMs = 60_000,
}) {
  const tag = `${process.pid.toString(36)}${(++herds).toString(36)}`;
  const soloMs = [];
  for (let i = 0; i < solos; i++) {
    flushDisk();
    const start = performance.now();
    const alone = await download(`${imgcache.url}/v2/images/${file.name}-solo-${tag}-${i}/file`, { timeoutMs });
    if (!complete(alone, file.size))
      throw new Error(`a lone miss of ${file.name} failed: ${alone.status} ${alone.bytes} bytes ${alone.error ?? ''}`);
    soloMs.push(alone.endMs - start);
  }
  flushDisk();
  const id = `${file.name}-herd-${tag}`;
  const before = await originRequests(originUrl, id);
  const herd = await crowd(`${imgcache.url}/v2/images/${id}/file`, clients, hashed, timeoutMs);
  const originCount = (await originRequests(originUrl, id)) - before;
  const hashedResults = herd.results.filter((result) => result.sha256 !== null);
  const wrongHash = hashedResults.filter((result) => result.sha256 !== file.sha256).length;
  const incomplete = herd.results.filter((result) => !complete(result, file.size)).length;
  const gaveUp = herd.results.filter((result) => result.error?.startsWith('no complete answer')).length;
  const xCache = {};
  for (const result of herd.results)
    xCache[result.xCache ?? result.error ?? 'none'] = (xCache[result.xCache ?? result.error ?? 'none'] ?? 0) + 1;
  const baseline = reference
    ? await crowd(`${staticServer.url}/v2/images/${file.name}/file`, clients, 0, timeoutMs)
    : null;
  const baselineGaveUp = baseline?.results.filter((result) => !complete(result, file.size)).length ?? 0;
  const aloneMs = median(soloMs);
  const figures = {
    clients,
    size: file.size,
    originRequests: originCount,
    incomplete,
    hashed: hashedResults.length,
    wrongHash,
    badBodies: incomplete + wrongHash,
    aloneMs,
    soloMs,
    slowestMs: herd.slowestMs,
    gaveUp,
    ttlbRatio: herd.slowestMs / aloneMs,
    xCache,
    staticSlowestMs: baseline?.slowestMs ?? null,
  };
  const bad = figures.badBodies;
  printTable(
    `${clients} concurrent misses of one ${file.size / MiB} MiB image (imgcache-server, sha256; node:http clients, one connection each)`,
    ['measure', 'value', 'target'],
    [
      [
        'origin data requests',
        String(originCount),
        `${describe(target('server.herd.origin'))} ${mark('server.herd.origin', originCount)}`,
      ],
      [
        `bodies complete (length; sha256 of ${hashedResults.length})`,
        `${clients - incomplete}/${clients}; ${hashedResults.length - wrongHash}/${hashedResults.length}`,
        `all ${mark('server.herd.incomplete', bad)}`,
      ],
      ['one client alone on a new image, last byte', `${millis(aloneMs)} (median of ${solos})`, ''],
      [
        `slowest of ${clients}, last byte`,
        gaveUp ? `> ${millis(timeoutMs)} (${gaveUp} gave up)` : millis(herd.slowestMs),
        '',
      ],
      [
        'slowest / alone',
        figures.ttlbRatio.toFixed(2),
        `${describe(target('server.herd.ttlb'))} ${mark('server.herd.ttlb', figures.ttlbRatio)}`,
      ],
      [
        'X-Cache',
        Object.entries(xCache)
          .map(([value, count]) => `${value} ${count}`)
          .join(', '),
        '',
      ],
      ...(baseline
        ? [
            [
              `reference: static Node server, ${clients} clients, slowest`,
              baselineGaveUp ? `> ${millis(timeoutMs)} (${baselineGaveUp} gave up)` : millis(baseline.slowestMs),
              '',
            ],
          ]
        : []),
    ],
  );
  return figures;
}
