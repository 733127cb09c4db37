import { Readable, Transform, pipeline } from 'node:stream';
import { ChecksumMismatchError, MultiHasher, SizeMismatchError, formatChecksum, parseChecksum } from '@imgcache/core';

/** What an origin announced about a body that is relayed without being cached. */
export interface Announced {
  imageId: string;
  /** Bytes the body must have. */
  size?: number | undefined;
  /** `algorithm:hex` (or bare md5) checksums it must match, as a fill takes them. */
  checksum?: string | readonly string[] | null | undefined;
}

/**
 * Checks a body relayed uncached as a fill checks the bytes it caches: a body longer than
 * `size` fails as soon as it passes it; at the end the size and every checksum must match.
 * The last chunk is held back until then, so a client of the relay gets a reset
 * connection, never a clean end after wrong or missing bytes. Returns `body` itself when
 * nothing was announced.
 */
export function verifiedBody(body: Readable | AsyncIterable<Uint8Array>, announced: Announced): Readable {
  const source = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
  const checksums = [announced.checksum ?? []].flat().map((value) => parseChecksum(value));
  if (announced.size === undefined && checksums.length === 0) return source;
  const hasher = new MultiHasher(checksums.map((checksum) => checksum.algorithm));
  let received = 0;
  let held: Uint8Array | null = null;
  const checked = new Transform({
    transform(chunk: Uint8Array, _encoding, callback) {
      received += chunk.byteLength;
      if (announced.size !== undefined && received > announced.size)
        return callback(new SizeMismatchError(announced.imageId, announced.size, received));
      hasher.update(chunk);
      const previous = held;
      held = chunk;
      callback(null, previous);
    },
    flush(callback) {
      if (announced.size !== undefined && received !== announced.size)
        return callback(new SizeMismatchError(announced.imageId, announced.size, received));
      const digests = hasher.digest();
      for (const checksum of checksums) {
        const actual = digests.get(checksum.algorithm)!;
        if (actual !== checksum.hex)
          return callback(
            new ChecksumMismatchError(announced.imageId, formatChecksum(checksum), `${checksum.algorithm}:${actual}`),
          );
      }
      callback(null, held);
    },
  });
  pipeline(source, checked, () => undefined);
  return checked;
}
