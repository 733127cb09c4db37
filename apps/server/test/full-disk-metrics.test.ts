import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { originGate } from '@imgcache/test-origin';
import { fillFailureReason } from '../src/failure-reason.js';
import { randomImage, startHarness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';
import { mountTmpfs } from './helpers/tmpfs.js';

const mount = await mountTmpfs('8m');
const mounted = 'dir' in mount ? mount : null;
if (!mounted) console.warn(`skipping the full-disk metric test: ${'skipReason' in mount ? mount.skipReason : ''}`);
afterAll(async () => {
  await mounted?.unmount();
});

/** Writes to `path` until the filesystem refuses with ENOSPC. */
async function fillDisk(path: string): Promise<void> {
  const handle = await open(path, 'a');
  const block = Buffer.alloc(64 * 1024, 7);
  try {
    for (;;) await handle.write(block);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('fill failures by cause', () => {
  it.skipIf(!mounted)(
    'counts a fill that meets a full disk as a local failure, not an origin one (a real 8 MiB tmpfs)',
    async () => {
      const h = await startHarness({ dir: join(mounted!.dir, 'cache') });
      try {
        const { spec: gate, release, arrived } = originGate(64 * 1024);
        h.origin.add('no-room', { data: randomImage(3 * 1024 * 1024), chunkSize: 64 * 1024, chunkDelayMs: 2, gate });
        await h.server.cache.queueImage('no-room');
        // A prefetch has no client: with the disk full there is nobody to relay to, so the fill fails.
        const prefetch = h.server.prefetcher.runOnce();
        await arrived;
        await fillDisk(join(mounted!.dir, 'filler'));
        release();
        await prefetch;
        const metrics = (await send(h.url('/metrics'))).body.toString();
        expect(metricValue(metrics, 'imgcache_fill_failures_total{reason="local"}')).toBe(1);
        expect(metricValue(metrics, 'imgcache_fill_failures_total{reason="origin"}')).toBe(0);
        expect(await h.server.cache.isCached('no-room')).toBe(false);
      } finally {
        await h.stop();
      }
    },
  );

  it('names storage errors local and everything else from the download origin', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS'])
      expect(fillFailureReason(Object.assign(new Error(code), { code, syscall: 'write' }))).toBe('local');
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_BODY_TIMEOUT', undefined])
      expect(fillFailureReason(Object.assign(new Error('broke'), { code }))).toBe('origin');
  });
});
