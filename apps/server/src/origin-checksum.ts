import { parseChecksum, formatChecksum, type ChecksumAlgorithm } from '@imgcache/core';

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
 * sends it, or base64 as RFC 1864 has it). Values that do not parse are ignored rather
 * than failing the download; two announcements that disagree are both kept, so the
 * download fails verification.
 */
export function announcedChecksums(metadata: GlanceImageMetadata | null, contentMd5: string | undefined): AnnouncedChecksums {
  const checksums: string[] = [];
  const add = (value: string | undefined) => {
    if (value !== undefined && !checksums.includes(value)) checksums.push(value);
  };
  const algorithm = metadata?.os_hash_algo?.toLowerCase();
  const multihash = (algorithm === 'sha256' || algorithm === 'sha512') && metadata?.os_hash_value ? tryParse(`${algorithm}:${metadata.os_hash_value}`) : undefined;
  const metadataMd5 = metadata?.checksum ? tryParse(`md5:${metadata.checksum}`) : undefined;
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

/** `md5:hex` from a Content-MD5 header in hex or base64 form, or undefined. */
export function md5FromHeader(value: string): string | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-f]{32}$/i.test(trimmed)) return `md5:${trimmed.toLowerCase()}`;
  if (/^[A-Za-z0-9+/]{22}==$/.test(trimmed)) return `md5:${Buffer.from(trimmed, 'base64').toString('hex')}`;
  return undefined;
}

/**
 * The Content-MD5 value for a recorded `md5:hex` checksum, else undefined. Hex, as Glance
 * sends its `checksum` field: python-glanceclient compares the body's md5 hexdigest with
 * this header as a string, so the RFC 1864 base64 form would fail every download.
 */
export function contentMd5Header(checksum: string): string | undefined {
  return checksum.startsWith('md5:') ? checksum.slice(4) : undefined;
}

function tryParse(value: string): string | undefined {
  try {
    return formatChecksum(parseChecksum(value));
  } catch {
    return undefined;
  }
}
