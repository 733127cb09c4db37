import { listQuarantined } from '@imgcache/core';
import type { Command } from 'commander';
import type { BudgetSource } from '../config.js';
import { contextFor, withCache } from '../context.js';
import { dirUsage, type DirUsage } from '../dir-usage.js';
import { formatDuration } from '../format/format-age.js';
import { formatSize } from '../format/format-size.js';
import { printQuarantined, printRepairsAtOpen } from '../format/repairs.js';
import { examples } from '../help.js';
import { addScopeOption, clusterClient, printClusterView } from './cluster-scope.js';

/** What the Size line adds about the budget's origin: nothing when the operator gave it. */
const BUDGET_NOTES: Readonly<Record<BudgetSource, string>> = {
  flag: '',
  env: '',
  file: '',
  remembered: ', the budget the directory remembers',
  default: ', the default budget',
};

/**
 * `stats`: size against budget, counts, hits, queue length, the bytes left in `incomplete/`
 * and `invalid/`, what is quarantined in `invalid/` (image and cause), and what the startup
 * reconcile of this run repaired.
 */
export function registerStats(program: Command): void {
  const command = program
    .command('stats')
    .description('show size against budget, image and queue counts, hit totals, incomplete and invalid bytes')
    .action(async (options: { scope?: string }, self: Command) => {
      const context = await contextFor(self);
      const cluster = clusterClient(context, options.scope);
      if (cluster) return printClusterView(context, await cluster.clusterView());
      const { config } = context;
      const stats = await withCache(context, async (cache) => {
        const totals = await cache.getStats();
        return {
          dir: cache.layout.root,
          driver: cache.driverName,
          count: totals.count,
          totalSize: totals.totalSize,
          maxSize: config.maxSize,
          maxSizeSource: context.budgetSource,
          totalHits: totals.totalHits,
          queued: (await cache.getQueuedImages()).length,
          incomplete: await dirUsage(cache.layout.incompleteDir),
          invalid: await dirUsage(cache.layout.invalidDir),
          checksumAlgorithm: config.checksumAlgorithm,
          stallTime: config.stallTime,
          quarantined: await listQuarantined(cache.layout),
          repairedAtOpen: cache.reconcileReport.repairs,
        };
      });
      context.out.data(stats);
      const used = stats.maxSize > 0 ? ` (${((stats.totalSize / stats.maxSize) * 100).toFixed(1)}%)` : '';
      const exact = (bytes: number) => (context.verbose ? ` = ${bytes} bytes` : '');
      context.out.fields([
        ['Directory', stats.dir],
        ['Driver', stats.driver],
        ['Images', String(stats.count)],
        [
          'Size',
          `${formatSize(stats.totalSize)} of ${formatSize(stats.maxSize)}${used}${exact(stats.totalSize)}${BUDGET_NOTES[stats.maxSizeSource]}`,
        ],
        ['Hits', String(stats.totalHits)],
        ['Queued', String(stats.queued)],
        ['Incomplete', describeUsage(stats.incomplete)],
        ['Invalid', describeUsage(stats.invalid)],
        ['Checksum', stats.checksumAlgorithm],
        ['Stall time', formatDuration(stats.stallTime)],
      ]);
      printQuarantined(context.out, stats.quarantined, 'Quarantined in invalid/ (clean deletes them):');
      printRepairsAtOpen(context.out, stats.repairedAtOpen);
    });
  addScopeOption(command, true);
  examples(command, [
    'imgcache stats',
    'imgcache --json stats',
    'imgcache --url http://cache.internal:9393 stats --scope cluster',
  ]);
}

function describeUsage(usage: DirUsage): string {
  return `${usage.files} file${usage.files === 1 ? '' : 's'} (${formatSize(usage.bytes)})`;
}
