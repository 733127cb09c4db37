import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidImageId } from '@imgcache/core';
import type { Command } from 'commander';
import { ioFor } from '../cli-io.js';
import { contextFor, withCache } from '../context.js';
import { UsageError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';
import { resolveWriteTarget, writeToPath } from '../io/write-to-path.js';
import { parsePathFlag } from '../option-parsers.js';

/**
 * `get ID [-o FILE|-]`: streams a cached image out; a complete read counts a hit. A regular
 * file is replaced only once the whole image has arrived; a device or FIFO is written in
 * place; a symbolic link is followed (see {@link writeToPath}).
 */
export function registerGet(program: Command): void {
  const command = program
    .command('get')
    .description('stream a cached image to stdout or a file; reading it to the end counts a hit')
    .argument('<id>', 'image id')
    .option('-o, --output <file>', 'write to this file instead of stdout (- means stdout)', parsePathFlag)
    .action(async (imageId: string, options: { output?: string }, self: Command) => {
      assertValidImageId(imageId);
      const io = ioFor(self);
      const toStdout = options.output === undefined || options.output === '-';
      if (toStdout && io.stdout.isTTY)
        throw new UsageError('Refusing to write image bytes to a terminal; use -o FILE or redirect stdout.');
      // Before the cache is opened: a directory as output fails without reading anything.
      const target = toStdout ? undefined : await resolveWriteTarget(options.output!, io.cwd);
      const context = await contextFor(self);
      const size = await withCache(context, async (cache) => {
        // Opened before any output exists, so a miss leaves no empty file behind.
        const stream = await cache.openForRead(imageId);
        let bytes = 0;
        const source = Readable.from(
          (async function* () {
            for await (const chunk of stream as AsyncIterable<Uint8Array>) {
              bytes += chunk.byteLength;
              yield chunk;
            }
          })(),
          { objectMode: false },
        );
        if (target) await writeToPath(target, source);
        else await pipeline(source, io.stdout, { end: false });
        return bytes;
      });
      if (toStdout) return;
      context.out.data({ imageId, size, output: options.output });
      context.out.line(`Wrote image ${imageId} (${formatSize(size)}) to ${options.output}.`);
    });
  examples(command, ['imgcache get img-1 -o /tmp/img-1.qcow2', 'imgcache get img-1 | sha256sum']);
}
