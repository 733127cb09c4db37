import type { ImageCache } from '@imgcache/core';
import type { Command } from 'commander';
import { assertCanConfirm, confirm } from '../confirm.js';
import { contextFor, withCache } from '../context.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';

interface DeleteAllVerb {
  name: string;
  what: string;
  describe: (cache: ImageCache) => Promise<{ count: number; detail: string }>;
  removeAll: (cache: ImageCache) => Promise<number>;
}

const VERBS: readonly DeleteAllVerb[] = [
  {
    name: 'delete-all-cached-images',
    what: 'cached',
    describe: async (cache) => {
      const stats = await cache.getStats();
      return { count: stats.count, detail: ` (${formatSize(stats.totalSize)})` };
    },
    removeAll: (cache) => cache.deleteAllCachedImages(),
  },
  {
    name: 'delete-all-queued-images',
    what: 'queued',
    describe: async (cache) => ({ count: (await cache.getQueuedImages()).length, detail: '' }),
    removeAll: (cache) => cache.deleteAllQueuedImages(),
  },
];

/**
 * `delete-all-cached-images` and `delete-all-queued-images`: ask on a terminal; without
 * one, refuse (before touching anything) unless `--force`.
 */
export function registerDeleteAll(program: Command): void {
  for (const verb of VERBS) {
    const command = program
      .command(verb.name)
      .description(`delete every ${verb.what} image (asks first on a terminal; -f to skip)`)
      .option('-f, --force', 'do not ask for confirmation (required when stdin is not a terminal)')
      .action(async (options: { force?: boolean }, self: Command) => {
        const force = options.force ?? false;
        assertCanConfirm(`delete all ${verb.what} images`, force);
        const context = await contextFor(self);
        const deleted = await withCache(context, async (cache) => {
          if (!force) {
            const { count, detail } = await verb.describe(cache);
            if (count === 0) return 0;
            if (!(await confirm(`Delete all ${count} ${verb.what} images${detail} in ${cache.layout.root}?`, false))) return null;
          }
          return verb.removeAll(cache);
        });
        if (deleted === null) {
          context.out.data({ deleted: 0, confirmed: false });
          return context.out.line(`Not deleting any ${verb.what} images.`);
        }
        context.out.data({ deleted });
        context.out.line(`Deleted ${deleted} ${verb.what} image${deleted === 1 ? '' : 's'}.`);
      });
    examples(command, [`imgcache ${verb.name}`, `imgcache ${verb.name} --force    # in scripts and cron jobs`]);
  }
}
