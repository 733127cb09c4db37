import { createHash, randomBytes } from 'node:crypto';
import { ImageCache } from '@imgcache/core';

/**
 * Shows the cache working on the default directory: caches a few generated images with
 * checksum verification, reads one back (a hit), rejects a corrupt download, prunes to a
 * small budget and lists what is left.
 */
export async function runDemo(dir: string, out: (line: string) => void): Promise<void> {
  const budget = 3 * 1024 * 1024;
  const cache = await ImageCache.open({ dir, maxSize: budget, importer: (s) => import(s) });
  try {
    out(`cache directory: ${cache.layout.root} (driver: ${cache.driverName})`);
    const ids: string[] = [];
    for (let n = 1; n <= 4; n++) {
      const id = `demo-image-${n}`;
      const bytes = randomBytes(1024 * 1024);
      const checksum = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      await cache.deleteCachedImage(id);
      const cached = await cache.cacheImageIter(id, chunks(bytes), checksum);
      out(`cached ${id}: ${cached ? 'yes' : 'no'} (1 MiB, ${checksum.slice(0, 19)}…)`);
      ids.push(id);
    }
    let read = 0;
    for await (const chunk of await cache.openForRead(ids[0]!)) read += (chunk as Buffer).length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    out(`read ${ids[0]} back: ${read} bytes, hits now ${await cache.getHitCount(ids[0]!)}`);
    try {
      await cache.cacheImageIter('demo-corrupt', chunks(randomBytes(4096)), `md5:${'0'.repeat(32)}`);
    } catch (error) {
      out(`refused a corrupt download: ${(error as Error).message}`);
    }
    const pruned = await cache.prune();
    out(`pruned to ${budget} bytes: evicted ${pruned.files} image(s), ${pruned.bytes} bytes`);
    for (const image of await cache.getCachedImages()) {
      out(`  ${image.imageId.padEnd(16)} ${String(image.size).padStart(8)} bytes  hits ${image.hits}`);
    }
    out(`cache size: ${await cache.getCacheSize()} bytes`);
  } finally {
    await cache.close();
  }
}

function* chunks(bytes: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}
