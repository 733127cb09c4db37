import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidImageId } from '@imgcache/core';
import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { UsageError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';
import { parsePathFlag } from '../option-parsers.js';

/** `get ID [-o FILE|-]`: streams a cached image out; a complete read counts a hit. Writes a file via a temporary name, so a failure leaves no partial output. */
export function registerGet(program: Command): void {
  const command = program
    .command('get')
    .description('stream a cached image to stdout or a file; reading it to the end counts a hit')
    .argument('<id>', 'image id')
    .option('-o, --output <file>', 'write to this file instead of stdout (- means stdout)', parsePathFlag)
    .action(async (imageId: string, options: { output?: string }, self: Command) => {
      assertValidImageId(imageId);
      const toStdout = options.output === undefined || options.output === '-';
      if (toStdout && process.stdout.isTTY) throw new UsageError('Refusing to write image bytes to a terminal; use -o FILE or redirect stdout.');
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
        if (toStdout) {
          await pipeline(source, process.stdout, { end: false });
          return bytes;
        }
        const target = options.output!;
        const partial = `${target}.imgcache-partial-${process.pid}`;
        try {
          await pipeline(source, createWriteStream(partial, { flags: 'wx' }));
          await rename(partial, target);
        } catch (error) {
          await rm(partial, { force: true });
          throw error;
        }
        return bytes;
      });
      if (toStdout) return;
      context.out.data({ imageId, size, output: options.output });
      context.out.line(`Wrote image ${imageId} (${formatSize(size)}) to ${options.output}.`);
    });
  examples(command, ['imgcache get img-1 -o /tmp/img-1.qcow2', 'imgcache get img-1 | sha256sum']);
}
