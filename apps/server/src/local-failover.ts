import { createHash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ImgcacheError, parseChecksum } from '@imgcache/core';
import { OriginError } from './errors.js';
import { discard, forwardedHeaders, headerValue, type Origin } from './origin.js';

/** Errors of this machine's disk, not of the download: the origin's bytes are still good.
 * The SQLite driver reports a full or failing disk with its own codes when committing. */
const LOCAL_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EFBIG', 'SQLITE_FULL', 'SQLITE_IOERR']);

/**
 * True when a fill failed because the cache could not write (full disk, quota, I/O error),
 * as opposed to the origin breaking off, a checksum mismatch or a cancel.
 */
export function isLocalWriteFailure(error: unknown): boolean {
  if (ImgcacheError.is(error)) return false;
  const code = (error as { code?: unknown } | null)?.code;
  // SQLite's extended codes refine the primary one: SQLITE_IOERR_WRITE is an SQLITE_IOERR.
  return typeof code === 'string' && (LOCAL_ERROR_CODES.has(code) || LOCAL_ERROR_CODES.has(code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1')));
}

export interface FailoverContext {
  origin: Origin;
  imageId: string;
  /** The client's request headers (credentials are passed on). */
  incoming: IncomingHttpHeaders;
  /** Bytes of the whole image. */
  size: number;
  /** `algorithm:hex` the whole image must match, when the origin gave one. */
  checksum: string | undefined;
  /** Called once when the client is switched over to the origin. */
  onFailover: (error: unknown, sentBytes: number) => void;
}

/**
 * Streams a fill's follower to a client; when the fill fails for a local reason (the cache's
 * disk is full or failing), completes the same response from a new origin request: `Range:
 * bytes=N-` when the origin honours it, else the whole image with the first N bytes skipped.
 * Every byte sent is hashed and the last chunk is held back until the whole body matches
 * the checksum and size, so a client never gets a complete-looking wrong body: any other
 * failure is thrown, which resets the connection.
 * @throws the follower's error when it is not local, or an {@link OriginError} when the
 * origin cannot complete the image.
 */
export async function* completeFromOriginOnLocalFailure(follower: AsyncIterable<Uint8Array>, context: FailoverContext): AsyncGenerator<Uint8Array> {
  const expected = context.checksum ? parseChecksum(context.checksum) : undefined;
  const hash: Hash | undefined = expected ? createHash(expected.algorithm) : undefined;
  let sent = 0;
  try {
    for await (const chunk of follower) {
      hash?.update(chunk);
      sent += chunk.byteLength;
      yield chunk;
    }
    return;
  } catch (error) {
    if (!isLocalWriteFailure(error)) throw error;
    context.onFailover(error, sent);
  }
  let held: Uint8Array | undefined;
  for await (const chunk of originRemainder(context, sent)) {
    hash?.update(chunk);
    sent += chunk.byteLength;
    if (held) yield held;
    held = chunk;
  }
  if (sent !== context.size) throw new OriginError(`origin sent ${sent} bytes of image ${context.imageId}, expected ${context.size}`);
  const actual = hash?.digest('hex');
  if (expected && actual !== expected.hex) throw new OriginError(`image ${context.imageId} from the origin does not match ${context.checksum}`);
  if (held) yield held;
}

/** The image's bytes from offset `from` on, fetched anew from the origin. */
async function* originRemainder({ origin, imageId, incoming }: FailoverContext, from: number): AsyncGenerator<Uint8Array> {
  const headers = forwardedHeaders(incoming, { wholeImage: true });
  if (from > 0) headers['range'] = `bytes=${from}-`;
  const response = await origin.request(origin.dataUrl(imageId), { method: 'GET', headers });
  const contentRange = headerValue(response.headers, 'content-range');
  const ranged = response.statusCode === 206 && contentRange !== undefined && new RegExp(`^bytes ${from}-`).test(contentRange);
  if (!ranged && response.statusCode !== 200) {
    discard(response.body);
    throw new OriginError(`origin answered ${response.statusCode} when completing image ${imageId}`);
  }
  let skip = ranged ? 0 : from;
  try {
    for await (const chunk of response.body) {
      if (skip >= chunk.byteLength) {
        skip -= chunk.byteLength;
        continue;
      }
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
  } finally {
    // A client that went away stops the origin download too.
    if (!response.body.readableEnded) discard(response.body);
  }
}
