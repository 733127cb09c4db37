import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { examples } from '../help.js';

/** `list-queued`: table or `{ queuedImages: [...] }`, oldest first. */
export function registerListQueued(program: Command): void {
  const command = program
    .command('list-queued')
    .description('list images queued for prefetching, oldest first')
    .action(async (_options: object, self: Command) => {
      const context = await contextFor(self);
      const ids = await withCache(context, (cache) => cache.getQueuedImages());
      const { out } = context;
      out.data({ queuedImages: ids });
      if (ids.length === 0) return out.line('No queued images.');
      out.line(`Found ${ids.length} queued image${ids.length === 1 ? '' : 's'} (oldest first):`);
      out.table([{ header: '#', align: 'right' }, { header: 'ID' }], ids.map((id, index) => [String(index + 1), id]));
    });
  examples(command, ['imgcache list-queued', 'imgcache --json list-queued']);
}
