import { createHash } from 'node:crypto';

/** A digest of `data` in hex, as Glance writes `checksum` (md5) and `os_hash_value`. */
export function hex(algorithm: 'md5' | 'sha256' | 'sha512', data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** The Glance v2 routes a fake origin answers: image metadata and image data. */
export interface GlanceRoute {
  kind: 'metadata' | 'data';
  imageId: string;
}

/**
 * Which image a request path names: `/v2/images/{id}` (metadata), `/v2/images/{id}/file`
 * (data), or `/blobs/{id}` (data of a plain store, for a template origin `{url}/blobs/{id}`).
 * Null for any other path, or for an id with a malformed %-escape (it names no image).
 */
export function glanceRoute(pathname: string): GlanceRoute | null {
  const data = /^\/v2\/images\/([^/]+)\/file$/.exec(pathname) ?? /^\/blobs\/([^/]+)$/.exec(pathname);
  const metadata = /^\/v2\/images\/([^/]+)$/.exec(pathname);
  const match = data ?? metadata;
  if (!match) return null;
  try {
    return { kind: data ? 'data' : 'metadata', imageId: decodeURIComponent(match[1]!) };
  } catch {
    return null;
  }
}

/**
 * The fields of a Glance v2 image document that imgcache reads: `status`, `size`, md5
 * `checksum` and the sha512 `os_hash_*` pair (Glance's defaults), all of `checksummed`.
 * Without `checksummed` the three checksum fields are null, as for an image Glance has
 * no hashes for.
 */
export function glanceDocument(
  imageId: string,
  options: { size: number; status?: string; checksummed: Buffer | null },
): Record<string, unknown> {
  const { checksummed } = options;
  return {
    id: imageId,
    status: options.status ?? 'active',
    size: options.size,
    checksum: checksummed ? hex('md5', checksummed) : null,
    os_hash_algo: checksummed ? 'sha512' : null,
    os_hash_value: checksummed ? hex('sha512', checksummed) : null,
  };
}

/** A satisfiable `Range: bytes=start-end` of an image, with `end` inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Reads a single `bytes=N-` or `bytes=N-M` range (the forms imgcache sends) against an
 * image of `size` bytes: null when there is none (or another form: answered in full), or
 * `'unsatisfiable'` when it starts at or past the end (RFC 9110 §15.5.17: 416).
 */
export function byteRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  const match = /^bytes=(\d+)-(\d*)$/.exec(header ?? '');
  if (!match) return null;
  const start = Number(match[1]);
  if (start >= size) return 'unsatisfiable';
  return { start, end: match[2] ? Math.min(Number(match[2]), size - 1) : size - 1 };
}
