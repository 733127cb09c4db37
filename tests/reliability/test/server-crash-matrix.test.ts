import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { fixtureOrigin, seededRandom, tempDir } from './helpers.js';
import { checkCacheAfterCrash } from './invariants.js';
import { download, startServerProcess } from './server-process.js';

const KILLS_PER_DRIVER = Number(process.env.IMGCACHE_SERVER_CRASH_KILLS ?? 30);
const RESTART_CHECK_EVERY = 3;
const CLIENTS = 4;
const IMAGE_IDS = Array.from({ length: 8 }, (_, n) => `srv-${n}`);
const expectedHash = new Map(IMAGE_IDS.map((id) => [id, sha256(imageBytes(id)) as string]));

/**
 * Clients that download random images in a loop until stopped. Every body that completes
 * must be the image's exact bytes; one cut off by the kill must fail, never end short.
 */
function runClients(url: string, random: () => number, stop: AbortSignal, serverOutput: () => string) {
  const inFlight = new Set<string>();
  const stats = { complete: 0, cut: 0, misses: 0, hits: 0 };
  const dispatcher = new Agent({ connections: CLIENTS * 2 });
  const client = async () => {
    for (let round = 0; round < 200 && !stop.aborted; round++) {
      const id = IMAGE_IDS[Math.floor(random() * IMAGE_IDS.length)]!;
      inFlight.add(id);
      try {
        const result = await download(`${url}/v2/images/${id}/file`, { signal: stop, dispatcher });
        expect(result.status, `${id}: ${result.body}\nserver log:\n${serverOutput()}`).toBe(200);
        expect(result.sha256).toBe(expectedHash.get(id));
        stats.complete++;
        if (result.headers['x-cache'] === 'HIT') stats.hits++;
        else stats.misses++;
      } catch (error) {
        if ((error as { name?: string }).name === 'AssertionError') throw error;
        stats.cut++;
        return;
      } finally {
        inFlight.delete(id);
      }
    }
  };
  // Settled at once so a failed check waits for the test to await it instead of going unhandled.
  const done = Promise.allSettled(Array.from({ length: CLIENTS }, client)).then(async (results) => {
    await dispatcher.destroy().catch(() => undefined);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  });
  done.catch(() => undefined);
  return { inFlight, stats, done };
}

describe.each(['sqlite', 'xattr'])('server crash matrix: %s driver, SIGKILL with live clients', (driver) => {
  it(`${KILLS_PER_DRIVER} kills of imgcache-server leave only complete, verified images and exact accounting`, async () => {
    const { dir: parent, dispose } = await tempDir(`server-crash-${driver}`);
    const dir = join(parent, 'cache');
    // Throttled so a 2 MiB image takes ~100 ms and kills land mid-fill.
    const origin = await fixtureOrigin({ chunkSize: 64 * 1024, chunkDelayMs: 3 }).start();
    const random = seededRandom(driver.length * 104_729);
    const totals = { abandoned: 0, listed: 0, complete: 0, cut: 0, hits: 0, misses: 0, restarts: 0 };
    const args = [
      '--origin',
      origin.url,
      '--dir',
      dir,
      '--driver',
      driver,
      '--public',
      '--maintenance-interval',
      '0',
      '--max-size',
      '4M',
    ];
    try {
      for (let kill = 0; kill < KILLS_PER_DRIVER; kill++) {
        const server = await startServerProcess(args);
        const stop = new AbortController();
        let interrupted: string[] = [];
        try {
          const clients = runClients(server.url, random, stop.signal, server.output);
          await new Promise((resolve) => setTimeout(resolve, 30 + Math.floor(random() * 500)));
          interrupted = [...clients.inFlight];
          await server.stop('SIGKILL');
          stop.abort();
          await clients.done;
          for (const key of ['complete', 'cut', 'hits', 'misses'] as const) totals[key] += clients.stats[key];
        } finally {
          stop.abort();
          await server.stop('SIGKILL');
        }
        const { ids, report } = await checkCacheAfterCrash(dir, driver);
        const listed = ids.length;
        const abandoned = report.abandonedWrites;
        totals.listed += listed;
        totals.abandoned += abandoned;

        // Now and then: a fresh server serves an image whose download the kill cut short, in full.
        if (kill % RESTART_CHECK_EVERY === RESTART_CHECK_EVERY - 1) {
          const again = await startServerProcess(args);
          try {
            const id = interrupted[0] ?? IMAGE_IDS[0]!;
            const first = await download(`${again.url}/v2/images/${id}/file`);
            expect(first.status).toBe(200);
            expect(first.sha256).toBe(expectedHash.get(id));
            // Served again (a hit, or joining the fill's last moments) with the same bytes.
            const second = await download(`${again.url}/v2/images/${id}/file`);
            expect(second.status).toBe(200);
            expect(second.sha256).toBe(expectedHash.get(id));
            totals.restarts++;
          } finally {
            expect(await again.stop('SIGTERM')).toEqual({ code: 0, signal: null });
          }
          // And it stayed cached across the clean shutdown.
          expect((await checkCacheAfterCrash(dir, driver)).ids).toContain(interrupted[0] ?? IMAGE_IDS[0]!);
        }
      }
      // The kills must really have cut downloads and fills short some of the time, or the test proves nothing.
      expect(totals.cut).toBeGreaterThan(0);
      expect(totals.abandoned).toBeGreaterThan(0);
      expect(totals.complete).toBeGreaterThan(0);
      console.log(
        `server ${driver}: ${KILLS_PER_DRIVER} kills, ${totals.abandoned} interrupted fills quarantined, ${totals.listed} cached images checked, ` +
          `${totals.complete} complete downloads verified (${totals.misses} miss/coalesced, ${totals.hits} hits), ${totals.cut} cut by the kill, ${totals.restarts} restarts served an interrupted image`,
      );
    } finally {
      await origin.stop();
      await dispose();
    }
  });
});
