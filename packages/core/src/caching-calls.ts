import { open } from 'node:fs/promises';
import { parseChecksum } from './checksum.js';
import type { ImageSource } from './fill.js';
import type { FillOutcome, FillStartResult } from './fill-registry.js';
import type { FillOptions } from './image-cache-options.js';

/** Bytes per read of a local file being cached. */
const FILE_CHUNK = 1024 * 1024;

/** The part of the cache the Glance-style caching calls stand on: the single-flight fill. */
export interface Filler {
  fill<D>(
    imageId: string,
    start: () => Promise<FillStartResult<D>>,
    options?: { join?: boolean },
  ): Promise<FillOutcome<D>>;
}

function startWith(source: ImageSource, checksum: string | null | undefined, options: FillOptions) {
  return async (): Promise<FillStartResult<never>> => ({
    source: { body: source, checksum, size: options.expectedSize, signal: options.signal },
  });
}

/**
 * Wraps a source so that consuming it also caches it (verified against `checksum`, a bare
 * md5 or `algorithm:hex`). When the image is not cacheable (cached, or being cached) the
 * source is passed through untouched. Source errors, aborts and mismatches reach the
 * consumer; a local write failure only stops caching. A consumer that stops early stops
 * the fill. The iteration ends once the image is committed.
 * @throws {InvalidChecksumError} synchronously, before anything is read.
 */
export function cachingIter(
  cache: Filler,
  imageId: string,
  source: ImageSource,
  checksum: string | null | undefined,
  options: FillOptions,
): AsyncIterable<Uint8Array> {
  if (checksum) parseChecksum(checksum);
  return (async function* () {
    const outcome = await cache.fill(imageId, startWith(source, checksum, options), { join: false });
    if (outcome.kind !== 'joined') return yield* source;
    let finished = false;
    try {
      yield* outcome.fill.read({ signal: options.signal });
      await outcome.fill.done;
      finished = true;
    } finally {
      if (!finished) await outcome.fill.abort();
    }
  })();
}

/**
 * Caches an image from a source, reading it to the end.
 * @returns true when the image is cached afterwards, false when it was not cacheable
 *   (cached or being cached already, or cancelled by a delete meanwhile).
 * @throws {InvalidChecksumError | ChecksumMismatchError | SizeMismatchError | FillAbortedError}
 *   or the source's error, or the disk's error; nothing is cached then.
 */
export async function cacheFromSource(
  cache: Filler,
  imageId: string,
  source: ImageSource,
  checksum: string | null | undefined,
  options: FillOptions,
): Promise<boolean> {
  if (checksum) parseChecksum(checksum);
  const outcome = await cache.fill(imageId, startWith(source, checksum, options), { join: false });
  if (outcome.kind === 'pass' && outcome.reason === 'unavailable') throw outcome.error;
  if (outcome.kind !== 'joined') return false;
  const { fill } = outcome;
  if (await fill.done) return true;
  if (fill.diskFailure) throw fill.diskFailure;
  return false;
}

/**
 * Caches an image from a local file, whose size it must keep while it is read.
 * @returns and @throws as {@link cacheFromSource}, and the file's open or read error.
 */
export async function cacheFromFile(
  cache: Filler,
  imageId: string,
  path: string,
  checksum: string | null | undefined,
  options: FillOptions,
): Promise<boolean> {
  const handle = await open(path, 'r');
  const size = (await handle.stat()).size;
  const stream = handle.createReadStream({ highWaterMark: FILE_CHUNK });
  try {
    return await cacheFromSource(cache, imageId, stream, checksum, { expectedSize: size, ...options });
  } finally {
    stream.destroy();
  }
}
