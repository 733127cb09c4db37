import { ChecksumMismatchError, FillAbortedError, ImgcacheError, SizeMismatchError } from './errors.js';
import type { Fill } from './fill.js';
import type { Logger } from './logger.js';

/** Bytes to cache: any async or sync iterable of chunks (a Readable, a fetch body, a generator). */
export type ImageSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface TeeOptions {
  /**
   * When true (cacheImageIter) every failure rejects. When false (getCachingIter) a
   * failure to write or commit the cache file is logged and the source keeps flowing to
   * the consumer, because the consumer's bytes are still good; source errors, aborts and
   * verification failures always reach the consumer.
   */
  strict: boolean;
  signal?: AbortSignal | undefined;
  logger: Logger;
  /** Called once the image is committed. */
  onCommit?: (() => void) | undefined;
}

/**
 * Yields the source's chunks while writing them into `fill`. The last chunk is held back
 * until the checksum and size are verified, so a consumer of a mismatching stream never
 * receives a complete-looking body: it gets every byte but the last chunk, then the error.
 */
export async function* teeIntoFill(fill: Fill, source: ImageSource, options: TeeOptions): AsyncGenerator<Uint8Array, void, undefined> {
  const { strict, signal, logger, onCommit } = options;
  let held: Uint8Array | undefined;
  let caching = true;
  let finished = false;
  let failure: unknown = new FillAbortedError(fill.imageId);
  try {
    for await (const chunk of source) {
      throwIfAborted(signal, fill.imageId);
      assertChunk(chunk);
      if (chunk.byteLength === 0) continue;
      if (caching) {
        try {
          await fill.write(chunk);
        } catch (error) {
          if (strict) throw error;
          caching = false;
          log(logger, error, fill.imageId, 'cache write failed; serving the rest without caching');
          await fill.abandon(error);
        }
      }
      if (held) yield held;
      held = chunk;
    }
    throwIfAborted(signal, fill.imageId);
    if (caching) {
      try {
        await fill.commit();
        onCommit?.();
      } catch (error) {
        if (strict || error instanceof ChecksumMismatchError || error instanceof SizeMismatchError) throw error;
        log(logger, error, fill.imageId, 'cache commit failed; the image was not cached');
      }
    }
    if (held) yield held;
    finished = true;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    // Reached on source errors, aborts and consumers that stop early: never leave the
    // temporary file where it could be mistaken for a live write.
    if (!finished) await fill.abandon(failure);
  }
}

function throwIfAborted(signal: AbortSignal | undefined, imageId: string): void {
  if (signal?.aborted) throw new FillAbortedError(imageId, { cause: signal.reason });
}

function assertChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) {
    throw new TypeError(`Image sources must yield Uint8Array or Buffer chunks, got ${typeof chunk}`);
  }
}

/** A cancelled fill (image deleted, cache closed) is expected; anything else deserves a warning. */
function log(logger: Logger, error: unknown, imageId: string, message: string): void {
  if (ImgcacheError.is(error, 'ERR_IMGCACHE_ABORTED')) logger.debug({ imageId }, 'fill cancelled; passing the rest through');
  else logger.warn({ imageId, err: describe(error) }, message);
}

function describe(error: unknown): string {
  if (ImgcacheError.is(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
