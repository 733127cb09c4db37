import { assertValidImageId, type ImageCache } from '@imgcache/core';
import type { Command } from 'commander';
import { allowRemote, contextFor, withCache } from '../context.js';
import { examples } from '../help.js';
import { deleteOnServer, type DeleteOutcome } from '../remote/remote-operations.js';

interface DeleteVerb {
  name: string;
  what: 'cached' | 'queued';
  remove: (cache: ImageCache, imageId: string) => Promise<boolean>;
}

const VERBS: readonly DeleteVerb[] = [
  { name: 'delete-cached-image', what: 'cached', remove: (cache, imageId) => cache.deleteCachedImage(imageId) },
  { name: 'delete-queued-image', what: 'queued', remove: (cache, imageId) => cache.deleteQueuedImage(imageId) },
];

/** `delete-cached-image ID…` and `delete-queued-image ID…`: idempotent, like Glance's. */
export function registerDeleteImages(program: Command): void {
  for (const verb of VERBS) {
    const command = program
      .command(verb.name)
      .description(
        `delete ${verb.what} images (an id that is not ${verb.what} is reported, not an error; also with --url)`,
      )
      .argument('<id...>', 'image ids')
      .action(async (ids: string[], _options: object, self: Command) => {
        for (const id of ids) assertValidImageId(id);
        const context = await contextFor(self);
        const { remote } = context;
        const results = remote
          ? await deleteOnServer(remote, verb.what, ids)
          : await withCache(context, async (cache) => {
              const outcome: DeleteOutcome[] = [];
              for (const imageId of ids) outcome.push({ imageId, deleted: await verb.remove(cache, imageId) });
              return outcome;
            });
        context.out.data({ results });
        for (const { imageId, deleted } of results) {
          context.out.line(
            deleted ? `Deleted ${verb.what} image ${imageId}.` : `Image ${imageId} was not ${verb.what}.`,
          );
        }
      });
    allowRemote(command);
    examples(command, [
      `imgcache ${verb.name} 0a1b2c3d-aaaa-bbbb-cccc-000000000001`,
      `imgcache ${verb.name} img-1 img-2`,
      `IMGCACHE_TOKEN=secret imgcache --url http://cache.internal:9393 ${verb.name} img-1`,
    ]);
  }
}
