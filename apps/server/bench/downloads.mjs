// Plain node:http clients for the benchmark rows that follow single downloads (concurrent
// misses, memory): each on its own connection, bounded by a deadline, bytes discarded.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * GETs `url` and reads the body to the end. Never rejects: a failure is reported in `error`.
 * @param {object} [options]
 * @param {boolean} [options.hash] also compute the body's sha256 (hex)
 * @param {number} [options.timeoutMs] give up (destroying the socket) after this long
 * @returns {Promise<{status: number|null, bytes: number, expected: number|null, sha256: string|null,
 *   xCache: string|null, endMs: number, error: string|null}>} endMs: performance.now() at the
 *   last byte (or the failure)
 */
export function download(url, { hash = false, timeoutMs = 120_000, method = 'GET' } = {}) {
  return new Promise((resolve) => {
    const digest = hash ? createHash('sha256') : null;
    /** @type {{status: number|null, bytes: number, expected: number|null, sha256: string|null, xCache: string|null, endMs: number, error: string|null}} */
    const result = { status: null, bytes: 0, expected: null, sha256: null, xCache: null, endMs: 0, error: null };
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.endMs = performance.now();
      result.error = error ? String(error.message ?? error) : null;
      if (digest && !error) result.sha256 = digest.digest('hex');
      resolve(result);
    };
    const req = request(url, { method, agent: false }, (res) => {
      result.status = res.statusCode ?? null;
      const xCache = res.headers['x-cache'] ?? res.headers['x-cache-status'];
      result.xCache = (Array.isArray(xCache) ? xCache[0] : xCache) ?? null;
      result.expected = res.headers['content-length'] === undefined ? null : Number(res.headers['content-length']);
      res.on('data', (chunk) => {
        result.bytes += chunk.length;
        digest?.update(chunk);
      });
      res.once('end', () => finish(null));
      res.once('error', finish);
      res.once('aborted', () => finish(new Error('response aborted')));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', finish);
    req.end();
  });
}

/** True when a download got a 200 and exactly `size` bytes. */
export function complete(result, size) {
  return result.error === null && result.status === 200 && result.bytes === size;
}

/**
 * Polls HEAD `url` until the answer carries X-Cache: HIT (imgcache) or X-Cache-Status: HIT
 * (nginx), that is until a fill has committed; false if that takes over `limitMs`.
 */
export async function waitForHit(url, limitMs) {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if ((await download(url, { method: 'HEAD', timeoutMs: 10_000 })).xCache === 'HIT') return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** GETs and parses a small JSON document (origin /stats). */
export async function getJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** How many GETs the counting origin has received for image `id`. */
export async function originRequests(originUrl, id) {
  return (await getJson(`${originUrl}/stats/${id}`)).requests;
}
