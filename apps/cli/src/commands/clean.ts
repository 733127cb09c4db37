import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { formatDuration } from '../format/format-age.js';
import { examples } from '../help.js';
import { addScopeOption, clusterClient, runOnCluster } from './cluster-scope.js';

/** `clean`: reaps `invalid/` and writes stalled longer than the configured stall time. */
export function registerClean(program: Command): void {
  const command = program
    .command('clean')
    .description('delete failed writes (invalid/) and writes stalled longer than --stall-time (incomplete/)')
    .action(async (options: { scope?: string }, self: Command) => {
      const context = await contextFor(self);
      const cluster = clusterClient(context, options.scope);
      // Each node cleans with its own --stall-time.
      if (cluster) return void (await runOnCluster(context, cluster, 'clean'));
      const { stallTime } = context.config;
      const result = await withCache(context, (cache) => cache.clean(stallTime));
      context.out.data({ stallTime, ...result });
      context.out.line(
        `Removed ${result.incomplete} stalled write${result.incomplete === 1 ? '' : 's'} (unchanged for ${formatDuration(stallTime)}) ` +
          `and ${result.invalid} invalid file${result.invalid === 1 ? '' : 's'}.`,
      );
    });
  addScopeOption(command, true);
  examples(command, [
    'imgcache --url http://cache.internal:9393 clean --scope cluster',
    'imgcache clean',
    'imgcache clean --stall-time 1h',
    'imgcache clean --stall-time 0   # every write not running in a live process',
  ]);
}
