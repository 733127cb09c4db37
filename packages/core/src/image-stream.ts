import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { NotCachedError } from './errors.js';
import type { Fill } from './fill.js';
import type { ReadOptions } from './image-cache-options.js';
import { READ_BUFFER_BYTES } from './io/buffer-pool.js';
import type { OpenImage } from './open-files.js';

/** The part of the cache a reader stands on. */
export interface ImageReader {
  getFill(imageId: string): Fill | undefined;
  openImage(imageId: string): Promise<OpenImage | null>;
  releaseImage(image: OpenImage): void;
  recordHit(imageId: string): void;
}

/**
 * Opens a cached image as a stream of bytes `[start, end]` (inclusive; clamped to the
 * image). The file is opened before this resolves, so a concurrent prune or delete cannot
 * take the bytes away from this reader. Reading to the end records a hit. An image that is
 * verified but still being committed is read from its fill.
 * @throws {InvalidImageIdError | CacheClosedError} from the cache.
 * @throws {NotCachedError} when the image is not cached.
 */
export async function streamImage(cache: ImageReader, imageId: string, options: ReadOptions): Promise<Readable> {
  const fill = cache.getFill(imageId);
  if (fill?.isVerified) {
    const end = options.end === undefined ? undefined : options.end + 1;
    const stream = Readable.from(fill.read({ start: options.start ?? 0, end }), { objectMode: false });
    stream.once('end', () => cache.recordHit(imageId));
    return stream;
  }
  const image = await cache.openImage(imageId);
  if (!image) throw new NotCachedError(imageId);
  const size = image.entry.size;
  const start = options.start ?? 0;
  const end = Math.min(options.end ?? size - 1, size - 1);
  // Small images get a buffer their size: a 1 MiB buffer per 4 KiB read costs more than the read.
  const highWaterMark = Math.max(64 * 1024, Math.min(READ_BUFFER_BYTES, size));
  // The descriptor is shared: every read is positional (start is always set), and the
  // stream must not close it.
  const stream =
    end < start
      ? Readable.from([], { objectMode: false })
      : image.bytes
        ? Readable.from([image.bytes.subarray(start, end + 1)], { objectMode: false })
        : createReadStream('', { fd: image.fd, highWaterMark, start, end, autoClose: false, emitClose: true });
  stream.once('end', () => cache.recordHit(imageId));
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    cache.releaseImage(image);
  };
  stream.once('close', release);
  stream.once('end', release);
  stream.once('error', release);
  return stream;
}
