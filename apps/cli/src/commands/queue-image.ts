import { assertValidImageId } from '@imgcache/core';
import type { Command } from 'commander';
import { allowRemote, contextFor, withCache } from '../context.js';
import { examples } from '../help.js';
import { queueOnServer, type QueueOutcome } from '../remote/remote-operations.js';

/** `queue-image ID…`: adds queue markers; ids already cached, queued or being cached are reported, not errors. */
export function registerQueueImage(program: Command): void {
  const command = program
    .command('queue-image')
    .description('queue images for the next prefetch (skips ones already cached or queued; also with --url)')
    .argument('<id...>', 'image ids')
    .action(async (ids: string[], _options: object, self: Command) => {
      // Every id is checked before the cache directory is opened or created, or a server is asked.
      for (const id of ids) assertValidImageId(id);
      const context = await contextFor(self);
      const { remote } = context;
      const results = remote
        ? await queueOnServer(remote, ids)
        : await withCache(context, async (cache) => {
            const outcome: QueueOutcome[] = [];
            for (const imageId of ids) {
              if (await cache.queueImage(imageId)) {
                outcome.push({ imageId, queued: true });
                continue;
              }
              const reason = (await cache.isCached(imageId))
                ? 'already cached'
                : (await cache.isQueued(imageId))
                  ? 'already queued'
                  : 'being cached';
              outcome.push({ imageId, queued: false, reason });
            }
            return outcome;
          });
      context.out.data({ results });
      for (const result of results) {
        context.out.line(
          result.queued
            ? `Queued image ${result.imageId} for caching.`
            : `Did not queue image ${result.imageId}: ${result.reason}.`,
        );
      }
    });
  allowRemote(command);
  examples(command, [
    'imgcache queue-image 0a1b2c3d-aaaa-bbbb-cccc-000000000001',
    'imgcache queue-image img-1 img-2 img-3',
    'IMGCACHE_TOKEN=secret imgcache --url http://cache.internal:9393 queue-image img-1',
  ]);
}
