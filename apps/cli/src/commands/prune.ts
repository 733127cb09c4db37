import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { formatSize } from '../format/format-size.js';
import { UsageError } from '../errors.js';
import { examples } from '../help.js';
import { addScopeOption, clusterClient, runOnCluster } from './cluster-scope.js';

/** `prune [--dry-run]`: LRU eviction down to the configured `--max-size`. */
export function registerPrune(program: Command): void {
  const command = program
    .command('prune')
    .description('evict least-recently-used images until the cache fits in --max-size')
    .option('--dry-run', 'only list what would be evicted')
    .action(async (options: { dryRun?: boolean; scope?: string }, self: Command) => {
      const context = await contextFor(self);
      const dryRun = options.dryRun ?? false;
      const cluster = clusterClient(context, options.scope);
      if (cluster) {
        if (dryRun) throw new UsageError('--dry-run works on a local directory only, not with --scope cluster');
        // Each node prunes to its own budget (its --max-size), not to this command line's.
        return void (await runOnCluster(context, cluster, 'prune'));
      }
      const { maxSize } = context.config;
      const result = await withCache(context, async (cache) => {
        const sizeBefore = await cache.getCacheSize();
        if (dryRun) {
          const images = await cache.planPrune(maxSize);
          const bytes = images.reduce((sum, image) => sum + image.size, 0);
          return { sizeBefore, sizeAfter: sizeBefore - bytes, files: images.length, bytes, images };
        }
        const { files, bytes } = await cache.prune(maxSize);
        return { sizeBefore, sizeAfter: await cache.getCacheSize(), files, bytes, images: undefined };
      });
      const { out } = context;
      out.data({ dryRun, maxSize, ...result });
      const budget = `${formatSize(result.sizeBefore)} cached, budget ${formatSize(maxSize)}`;
      if (result.files === 0) return out.line(`Nothing to prune: ${budget}.`);
      const verb = dryRun ? 'Would evict' : 'Evicted';
      out.line(
        `${verb} ${result.files} image${result.files === 1 ? '' : 's'} (${formatSize(result.bytes)}): ${budget}, ${formatSize(result.sizeAfter)} after.`,
      );
      if (result.images) {
        out.table(
          [{ header: 'ID' }, { header: 'SIZE', align: 'right' }],
          result.images.map((image) => [image.imageId, formatSize(image.size)]),
          '  ',
        );
      }
    });
  addScopeOption(command, true);
  examples(command, [
    'imgcache prune',
    'imgcache --max-size 5GiB prune --dry-run',
    'imgcache --url http://cache.internal:9393 prune --scope cluster   # every node, to its own budget',
  ]);
}
