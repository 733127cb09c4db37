import type { ImageCache } from '@imgcache/core';
import type { Command } from 'commander';
import { ioFor } from '../cli-io.js';
import { assertCanConfirm, confirm } from '../confirm.js';
import { allowRemote, contextFor, withCache, type CommandContext } from '../context.js';
import { countOf } from '../format/count-of.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';
import type { RemoteCacheListing } from '../remote/glance-listing.js';
import type { ManagementClient } from '../remote/management-client.js';

/** What the confirmation prompt says is about to go. */
interface Contents {
  count: number;
  detail: string;
}

interface DeleteAllVerb {
  name: string;
  what: string;
  describe: (cache: ImageCache) => Promise<Contents>;
  removeAll: (cache: ImageCache) => Promise<number>;
  describeRemote: (listing: RemoteCacheListing) => Contents;
  removeAllRemote: (client: ManagementClient) => Promise<number>;
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
    describeRemote: ({ cachedImages }) => ({
      count: cachedImages.length,
      detail: ` (${formatSize(cachedImages.reduce((sum, image) => sum + image.size, 0))})`,
    }),
    removeAllRemote: (client) => client.deleteAllCachedImages(),
  },
  {
    name: 'delete-all-queued-images',
    what: 'queued',
    describe: async (cache) => ({ count: (await cache.getQueuedImages()).length, detail: '' }),
    removeAll: (cache) => cache.deleteAllQueuedImages(),
    describeRemote: ({ queuedImages }) => ({ count: queuedImages.length, detail: '' }),
    removeAllRemote: (client) => client.deleteAllQueuedImages(),
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
      .description(`delete every ${verb.what} image (asks first on a terminal; -f to skip; also with --url)`)
      .option('-f, --force', 'do not ask for confirmation (required when stdin is not a terminal)')
      .action(async (options: { force?: boolean }, self: Command) => {
        const force = options.force ?? false;
        const { stdin, stderr } = ioFor(self);
        assertCanConfirm(`delete all ${verb.what} images`, force, { input: stdin, output: stderr });
        const context = await contextFor(self);
        const deleted = await deleteAll(context, verb, force);
        if (deleted === null) {
          context.out.data({ deleted: 0, confirmed: false });
          return context.out.line(`Not deleting any ${verb.what} images.`);
        }
        context.out.data({ deleted });
        context.out.line(`Deleted ${countOf(deleted, `${verb.what} image`)}.`);
      });
    allowRemote(command);
    examples(command, [
      `imgcache ${verb.name}`,
      `imgcache ${verb.name} --force    # in scripts and cron jobs`,
      `IMGCACHE_TOKEN=secret imgcache --url http://cache.internal:9393 ${verb.name} --force`,
    ]);
  }
}

/** Deletes everything in the local directory or on the server; null when the operator said no. */
async function deleteAll(context: CommandContext, verb: DeleteAllVerb, force: boolean): Promise<number | null> {
  const terminal = { input: context.io.stdin, output: context.io.stderr };
  // "Delete all 1 … images" reads wrong: one image is "the" image.
  const which = (count: number) => (count === 1 ? 'the' : 'all');
  const ask = (contents: Contents, where: string) =>
    confirm(
      `Delete ${which(contents.count)} ${countOf(contents.count, `${verb.what} image`)}${contents.detail} ${where}?`,
      false,
      terminal,
    );
  const { remote } = context;
  if (remote) {
    if (!force) {
      const contents = verb.describeRemote(await remote.listCache());
      if (contents.count === 0) return 0;
      if (!(await ask(contents, `on ${remote.location}`))) return null;
    }
    return verb.removeAllRemote(remote);
  }
  return withCache(context, async (cache) => {
    if (!force) {
      const contents = await verb.describe(cache);
      if (contents.count === 0) return 0;
      if (!(await ask(contents, `in ${cache.layout.root}`))) return null;
    }
    return verb.removeAll(cache);
  });
}
