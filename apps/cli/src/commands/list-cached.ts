import type { CachedImage } from '@imgcache/core';
import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { formatAge } from '../format/format-age.js';
import { formatSize } from '../format/format-size.js';
import type { Column } from '../format/table.js';
import { examples } from '../help.js';
import { addScopeOption, clusterClient, printClusterView } from './cluster-scope.js';

/** A listed image; `checksum` is null when listed by a server, whose API does not report it. */
type ListedImage = Omit<CachedImage, 'checksum'> & { checksum: string | null };

/** JSON form of a cached image: exact bytes, ISO times. */
export function cachedImageJson(image: ListedImage) {
  return {
    imageId: image.imageId,
    size: image.size,
    hits: image.hits,
    lastAccessed: image.lastAccessed.toISOString(),
    lastModified: image.lastModified.toISOString(),
    checksum: image.checksum,
  };
}

/** `list-cached`: table or `{ cachedImages: [...] }`. */
export function registerListCached(program: Command): void {
  const command = program
    .command('list-cached')
    .description('list cached images with their size, hits and last access (also with --url)')
    .action(async (options: { scope?: string }, self: Command) => {
      const context = await contextFor(self);
      const cluster = clusterClient(context, options.scope);
      if (cluster) return printClusterView(context, await cluster.clusterView());
      const { remote } = context;
      const images: ListedImage[] = remote
        ? (await remote.listCache()).cachedImages
        : await withCache(context, (cache) => cache.getCachedImages());
      const { out } = context;
      out.data({ cachedImages: images.map(cachedImageJson) });
      if (images.length === 0) return out.line('No cached images.');
      const total = images.reduce((sum, image) => sum + image.size, 0);
      out.line(`Found ${images.length} cached image${images.length === 1 ? '' : 's'} (${formatSize(total)}):`);
      const now = new Date();
      const columns: Column[] = [
        { header: 'ID' },
        { header: 'SIZE', align: 'right' },
        { header: 'HITS', align: 'right' },
        { header: 'LAST ACCESSED' },
        { header: 'CACHED' },
      ];
      if (context.verbose)
        columns.push({ header: 'LAST ACCESSED (UTC)' }, { header: 'CACHED (UTC)' }, { header: 'CHECKSUM' });
      out.table(
        columns,
        images.map((image) => {
          const row = [
            image.imageId,
            formatSize(image.size),
            String(image.hits),
            formatAge(image.lastAccessed, now),
            formatAge(image.lastModified, now),
          ];
          if (context.verbose)
            row.push(image.lastAccessed.toISOString(), image.lastModified.toISOString(), image.checksum ?? '-');
          return row;
        }),
      );
    });
  addScopeOption(command, false);
  examples(command, [
    'imgcache list-cached',
    'imgcache -v list-cached          # with ISO times and checksums',
    'imgcache --json list-cached | jq ".cachedImages[].imageId"',
    'imgcache --url http://cache.internal:9393 --token "$ADMIN_TOKEN" list-cached',
    'imgcache --url http://cache.internal:9393 list-cached --scope cluster   # every node: state, holdings, health',
  ]);
}
