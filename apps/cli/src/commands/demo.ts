import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ImgcacheError, listQuarantined, type ImageCache } from '@imgcache/core';
import type { Command } from 'commander';
import { contextFor, withCache, type CommandContext } from '../context.js';
import { formatAge } from '../format/format-age.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';
import { invocation, shellWord } from '../invocation.js';
import { cachedImageJson } from './list-cached.js';

const DEMO_IDS = ['demo-image-1', 'demo-image-2', 'demo-image-3', 'demo-image-4'];
const DEMO_SIZE = 1024 * 1024;
const CORRUPT_ID = 'demo-corrupt';

/**
 * Shows the cache working in the configured (by default the user's) cache directory: caches
 * four generated 1 MiB images with checksum verification, reads one back (a hit), refuses a
 * corrupt download, verifies the files on disk and shows which images an LRU prune would
 * evict, without evicting anything but its own earlier demo images.
 */
export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description('show the cache working: cache, read, refuse a corrupt download, verify, plan a prune')
    .action(async (_options: object, self: Command) => {
      const context = await contextFor(self);
      await withCache(context, (cache) => runDemo(cache, context));
    });
  examples(command, ['imgcache demo', 'imgcache --dir /tmp/imgcache-demo demo']);
}

async function runDemo(cache: ImageCache, { out }: CommandContext): Promise<void> {
  out.line(`Cache directory ${cache.layout.root} (driver ${cache.driverName}, ${cache.checksumAlgorithm} checksums)`);
  for (const imageId of DEMO_IDS) {
    const bytes = randomBytes(DEMO_SIZE);
    const checksum = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await cache.deleteCachedImage(imageId);
    await cache.cacheImageIter(imageId, chunks(bytes), checksum, { expectedSize: bytes.length });
    out.line(`  cached ${imageId}: ${formatSize(bytes.length)}, verified against ${checksum.slice(0, 19)}…`);
  }

  const [first] = DEMO_IDS as [string];
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of await cache.openForRead(first)) {
    hash.update(chunk as Buffer);
    read += (chunk as Buffer).length;
  }
  const image = await waitForHit(cache, first);
  const intact = image?.checksum === `sha256:${hash.digest('hex')}`;
  out.line(
    `  read ${first} back: ${formatSize(read)}, ${intact ? 'bytes match' : 'BYTES DIFFER'}, hits now ${image?.hits ?? 0}`,
  );

  let refusedCorrupt = false;
  try {
    await cache.cacheImageIter(CORRUPT_ID, chunks(randomBytes(4096)), `md5:${'0'.repeat(32)}`);
    out.line('  a corrupt download was cached: this should not happen');
  } catch (error) {
    if (!ImgcacheError.is(error, 'ERR_IMGCACHE_CHECKSUM_MISMATCH')) throw error;
    refusedCorrupt = true;
    out.line(`  refused a corrupt download: ${error.message}`);
  }
  // The refused bytes were moved to invalid/ (as any failed write is); this one was staged, so
  // the demo removes it rather than leave a file there on every run.
  await removeQuarantined(cache, CORRUPT_ID);

  const verified = await cache.verify(DEMO_IDS);
  out.line(
    `  verify re-hashed ${verified.checked} files on disk: ${verified.failed.length === 0 ? 'all intact' : `${verified.failed.length} failed`}`,
  );

  const size = await cache.getCacheSize();
  const budget = Math.max(0, size - 2 * DEMO_SIZE);
  const victims = await cache.planPrune(budget);
  out.line(
    `  a prune to ${formatSize(budget)} would evict, least recently used first: ${victims.map((victim) => victim.imageId).join(', ') || 'nothing'}`,
  );

  const now = new Date();
  const images = (await cache.getCachedImages()).filter((entry) => DEMO_IDS.includes(entry.imageId));
  out.data({
    dir: cache.layout.root,
    driver: cache.driverName,
    cachedImages: images.map(cachedImageJson),
    readBack: { imageId: first, bytes: read, intact },
    refusedCorrupt,
    verify: verified,
    prunePlan: { maxSize: budget, images: victims },
    totalSize: size,
  });
  out.line();
  out.table(
    [
      { header: 'ID' },
      { header: 'SIZE', align: 'right' },
      { header: 'HITS', align: 'right' },
      { header: 'LAST ACCESSED' },
    ],
    images.map((entry) => [
      entry.imageId,
      formatSize(entry.size),
      String(entry.hits),
      formatAge(entry.lastAccessed, now),
    ]),
  );
  out.line();
  // With --dir, so that they act on this directory whatever the next shell's IMGCACHE_DIR or cwd.
  const cli = `${invocation()} --dir ${shellWord(cache.layout.root)}`;
  out.line(
    `Cache holds ${formatSize(size)} of a ${formatSize(cache.maxSize)} budget. Next: ${cli} list-cached, ${cli} stats, ${cli} verify.`,
  );
}

/** Deletes the files in invalid/ that came from the demo's own refused image, and only those. */
async function removeQuarantined(cache: ImageCache, imageId: string): Promise<void> {
  for (const file of await listQuarantined(cache.layout)) {
    if (file.imageId === imageId) await rm(join(cache.layout.invalidDir, file.name), { force: true });
  }
}

/** The hit is recorded when the read stream ends; give an asynchronous driver a moment. */
async function waitForHit(cache: ImageCache, imageId: string) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const image = await cache.getCachedImage(imageId);
    if (!image || image.hits > 0) return image;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return cache.getCachedImage(imageId);
}

function* chunks(bytes: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}
