import { ImgcacheError, parseChecksum, parseContentMd5 } from '@imgcache/core';

/**
 * A response header that fails to describe a checksum; the image is not cached unverified.
 * Code `ERR_IMGCACHE_ORIGIN_RESPONSE`, as the server's refusal of the same answer.
 */
export class BadChecksumHeaderError extends ImgcacheError {
  constructor(header: string, value: string, options?: { cause?: unknown }) {
    super(
      'ERR_IMGCACHE_ORIGIN_RESPONSE',
      `the origin sent an unusable ${header} header (${JSON.stringify(value)}); not caching unverified bytes`,
      options,
    );
  }
}

/**
 * The checksum an origin announces for a response, in the form core accepts, or undefined.
 * Strongest first: `X-Checksum: algorithm:hex`, then `Content-MD5` (RFC 1864 base64, or the
 * 32 hex digits Glance sends, read by core's `parseContentMd5` as the server reads it), then
 * Glance v1's `X-Image-Meta-Checksum` (hex md5).
 * @throws {BadChecksumHeaderError} when a present header cannot be understood.
 */
export function checksumFromHeaders(headers: Headers): string | undefined {
  const announced = headers.get('x-checksum');
  if (announced) return checked('X-Checksum', announced.trim());
  const contentMd5 = headers.get('content-md5');
  if (contentMd5) return md5FromHeader(contentMd5);
  const glance = headers.get('x-image-meta-checksum');
  if (glance) return checked('X-Image-Meta-Checksum', glance.trim());
  return undefined;
}

function checked(header: string, value: string): string {
  try {
    parseChecksum(value);
    return value;
  } catch {
    throw new BadChecksumHeaderError(header, value);
  }
}

function md5FromHeader(value: string): string {
  try {
    return parseContentMd5(value);
  } catch (error) {
    throw new BadChecksumHeaderError('Content-MD5', value, { cause: error });
  }
}
