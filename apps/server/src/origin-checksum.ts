import { parseChecksum, parseContentMd5, formatChecksum, type ChecksumAlgorithm } from '@imgcache/core';
import { OriginResponseError } from './errors.js';

/** Fields of Glance image metadata that describe the image data. */
export interface GlanceImageMetadata {
  size?: number | null;
  checksum?: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  status?: string;
}

/** What the origin announced about an image's bytes before sending them. */
export interface AnnouncedChecksums {
  /** Every checksum announced, as `algorithm:hex`; the download must match all of them. */
  checksums: string[];
  /** The image's md5 as lower-case hex (Glance's `checksum`, or the response's Content-MD5). */
  md5: string | undefined;
  /**
   * The checksum the image is recorded under, and so its ETag on hits and misses alike:
   * the md5 when one was announced (a hit must be able to send Glance's Content-MD5),
   * else the multihash; undefined when nothing was announced.
   */
  recorded: string | undefined;
}

/**
 * Reads what an origin announced: Glance's multihash (`os_hash_algo`/`os_hash_value`,
 * sha256 or sha512), its md5 `checksum`, and the response's `Content-MD5` (hex as Glance
 * sends it, or base64 as RFC 1864 has it). Two announcements that disagree are both kept, so
 * the download fails verification. A multihash in an algorithm imgcache does not compute
 * (Glance allows others) is left out: it cannot be checked, and it is not a malformed value.
 * @throws {OriginResponseError} when a value is present but cannot be read (a malformed
 *   Content-MD5, a `checksum` or sha256/sha512 `os_hash_value` that is not hex of the right
 *   length): the same policy as the CLI's prefetch (core's `parseContentMd5`), since
 *   ignoring it would cache bytes unverified that the origin meant to be verified.
 */
export function announcedChecksums(
  metadata: GlanceImageMetadata | null,
  contentMd5: string | undefined,
): AnnouncedChecksums {
  const checksums: string[] = [];
  const add = (value: string | undefined) => {
    if (value !== undefined && !checksums.includes(value)) checksums.push(value);
  };
  const algorithm = metadata?.os_hash_algo?.toLowerCase();
  const multihash =
    (algorithm === 'sha256' || algorithm === 'sha512') && metadata?.os_hash_value
      ? readable('os_hash_value', `${algorithm}:${metadata.os_hash_value}`)
      : undefined;
  const metadataMd5 = metadata?.checksum ? readable('checksum', `md5:${metadata.checksum}`) : undefined;
  const headerMd5 = contentMd5 ? md5FromHeader(contentMd5) : undefined;
  add(multihash);
  add(metadataMd5);
  add(headerMd5);
  const md5 = metadataMd5 ?? headerMd5;
  return { checksums, md5: md5?.slice(4), recorded: md5 ?? multihash };
}

/** The algorithm of an `algorithm:hex` checksum. */
export function algorithmOf(checksum: string): ChecksumAlgorithm {
  return parseChecksum(checksum).algorithm;
}

/**
 * `md5:hex` from a Content-MD5 header in hex or base64 form.
 * @throws {OriginResponseError} for any other value (core's `parseContentMd5` decides).
 */
export function md5FromHeader(value: string): string {
  try {
    return parseContentMd5(value);
  } catch (error) {
    throw new OriginResponseError(
      `its Content-MD5 header ${JSON.stringify(value)} is not an md5 digest; not caching unverified bytes`,
      { cause: error },
    );
  }
}

/**
 * The Content-MD5 value for a recorded `md5:hex` checksum, else undefined. Hex, as Glance
 * sends its `checksum` field: python-glanceclient compares the body's md5 hexdigest with
 * this header as a string, so the RFC 1864 base64 form would fail every download.
 */
export function contentMd5Header(checksum: string): string | undefined {
  return checksum.startsWith('md5:') ? checksum.slice(4) : undefined;
}

/** The checksum `value` in canonical form. @throws {OriginResponseError} naming the Glance field when it does not parse. */
function readable(field: string, value: string): string {
  try {
    return formatChecksum(parseChecksum(value));
  } catch (error) {
    throw new OriginResponseError(
      `its metadata's ${field} ${JSON.stringify(value.slice(value.indexOf(':') + 1))} is not a ${value.slice(0, value.indexOf(':'))} digest; not caching unverified bytes`,
      { cause: error },
    );
  }
}
