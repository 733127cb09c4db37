import type { Command } from 'commander';
import { allowRemote, contextFor, withCache } from '../context.js';
import { examples } from '../help.js';

/** `list-queued`: table or `{ queuedImages: [...] }`, oldest first. */
export function registerListQueued(program: Command): void {
  const command = program
    .command('list-queued')
    .description('list images queued for prefetching, oldest first (also with --url)')
    .action(async (_options: object, self: Command) => {
      const context = await contextFor(self);
      const { remote } = context;
      const ids = remote
        ? (await remote.listCache()).queuedImages
        : await withCache(context, (cache) => cache.getQueuedImages());
      const { out } = context;
      out.data({ queuedImages: ids });
      if (ids.length === 0) return out.line('No queued images.');
      out.line(`Found ${ids.length} queued image${ids.length === 1 ? '' : 's'} (oldest first):`);
      out.table(
        [{ header: '#', align: 'right' }, { header: 'ID' }],
        ids.map((id, index) => [String(index + 1), id]),
      );
    });
  allowRemote(command);
  examples(command, [
    'imgcache list-queued',
    'imgcache --json list-queued',
    'IMGCACHE_TOKEN=secret imgcache --url http://cache.internal:9393 list-queued',
  ]);
}
