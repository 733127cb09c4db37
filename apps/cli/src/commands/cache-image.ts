import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { assertValidImageId } from '@imgcache/core';
import type { Command } from 'commander';
import { ioFor } from '../cli-io.js';
import { contextFor, withCache } from '../context.js';
import { InterruptedError, OperationFailedError, UsageError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';
import { nonEmpty } from '../io/non-empty.js';
import { parseChecksumFlag } from '../option-parsers.js';

/** `cache-image ID FILE|-`: caches a file or stdin; exit 1 when nothing was cached (already cached, mismatch). */
export function registerCacheImage(program: Command): void {
  const command = program
    .command('cache-image')
    .description('cache an image from a file, or from stdin with "-" (hashed and written crash-safely)')
    .argument('<id>', 'image id')
    .argument('<file>', 'file to read, or - for stdin')
    .option(
      '--checksum <checksum>',
      'expected checksum: 32 hex digits (md5) or md5:/sha256:/sha512:<hex>; a mismatch caches nothing',
      parseChecksumFlag,
    )
    .option('--allow-empty', 'cache an empty (0-byte) image; without it empty input is refused')
    .action(
      async (imageId: string, file: string, options: { checksum?: string; allowEmpty?: boolean }, self: Command) => {
        assertValidImageId(imageId);
        const io = ioFor(self);
        const fromStdin = file === '-';
        if (fromStdin && io.stdin.isTTY)
          throw new UsageError(
            'Refusing to read an image from a terminal; pipe it in, e.g. imgcache cache-image ID - < image.qcow2',
          );
        // Empty input is nearly always a failed download upstream (curl -s prints nothing on an
        // error); cached, it would be served as the image. It is refused before the cache opens.
        const path = fromStdin ? null : resolve(io.cwd, file);
        const source = fromStdin ? await nonEmpty(io.stdin) : null;
        const empty = path === null ? source === null : (await stat(path).catch(() => null))?.size === 0;
        if (empty && !options.allowEmpty) {
          const what = fromStdin ? 'stdin was empty' : `${file} is empty`;
          throw new OperationFailedError(
            `Refusing to cache image ${imageId}: ${what} (0 bytes), which is usually a failed download. Pass --allow-empty to cache an empty image.`,
          );
        }
        const context = await contextFor(self);
        // Ctrl-C stops the write; core then removes its work file and claim before the exit,
        // instead of leaving them for the next start to move aside.
        const controller = new AbortController();
        const onInterrupt = (): void =>
          controller.abort(new InterruptedError(`Interrupted: image ${imageId} was not cached.`));
        process.once('SIGINT', onInterrupt);
        const image = await withCache(context, async (cache) => {
          const { signal } = controller;
          let cached: boolean;
          try {
            cached =
              path === null
                ? await cache.cacheImageIter(imageId, untilAborted(source ?? [], signal), options.checksum, { signal })
                : await cache.cacheImageFile(imageId, path, options.checksum, { signal });
          } catch (error) {
            if (signal.aborted) throw signal.reason;
            throw error;
          } finally {
            process.removeListener('SIGINT', onInterrupt);
            // A stdin left unread (interrupted) must not keep the process alive.
            if (fromStdin && signal.aborted) io.stdin.destroy();
          }
          if (!cached) {
            const reason = (await cache.isCached(imageId))
              ? 'it is already cached (delete-cached-image it first to replace it)'
              : 'another process is caching it right now';
            throw new OperationFailedError(`Did not cache image ${imageId}: ${reason}.`);
          }
          return cache.getCachedImage(imageId);
        });
        if (!image)
          throw new OperationFailedError(
            `Image ${imageId} was cached but is gone again (deleted or pruned meanwhile).`,
          );
        context.out.data({ imageId, cached: true, size: image.size, checksum: image.checksum });
        context.out.line(`Cached image ${imageId} (${formatSize(image.size)}, ${image.checksum}).`);
      },
    );
  examples(command, [
    'imgcache cache-image 0a1b2c3d-aaaa-bbbb-cccc-000000000001 ./cirros.qcow2',
    'curl -fsS https://origin/image | imgcache cache-image img-1 - --checksum sha256:9f86d0…',
  ]);
}

/**
 * The source's chunks until `signal` aborts, then its end: a read from stdin waiting for
 * bytes that may never come stops at once, and core, seeing its signal aborted at the end
 * of the source, discards the write (work file and claim) as a stop, not a failure.
 */
async function* untilAborted(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const iterator =
    Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  const stopped = new Promise<{ done: true; value: undefined }>((resolve) => {
    if (signal.aborted) resolve({ done: true, value: undefined });
    signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true });
  });
  for (;;) {
    const next = await Promise.race([iterator.next(), stopped]);
    if (next.done) return;
    yield next.value;
  }
}
