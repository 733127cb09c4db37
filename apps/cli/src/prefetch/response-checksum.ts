import { parseChecksum } from '@imgcache/core';

/** A response header that fails to describe a checksum; the image is not cached unverified. */
export class BadChecksumHeaderError extends Error {
  constructor(header: string, value: string) {
    super(`the origin sent an unusable ${header} header (${JSON.stringify(value)}); not caching unverified bytes`);
    this.name = 'BadChecksumHeaderError';
  }
}

/**
 * The checksum an origin announces for a response, in the form core accepts, or undefined.
 * Strongest first: `X-Checksum: algorithm:hex`, then `Content-MD5` (RFC 1864 base64, or the
 * 32 hex digits Glance sends), then Glance v1's `X-Image-Meta-Checksum` (hex md5).
 * @throws {BadChecksumHeaderError} when a present header cannot be understood.
 */
export function checksumFromHeaders(headers: Headers): string | undefined {
  const announced = headers.get('x-checksum');
  if (announced) return checked('X-Checksum', announced.trim());
  const contentMd5 = headers.get('content-md5');
  if (contentMd5) return `md5:${md5Hex(contentMd5.trim())}`;
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

function md5Hex(value: string): string {
  if (/^[0-9a-f]{32}$/i.test(value)) return value.toLowerCase();
  const bytes = Buffer.from(value, 'base64');
  // Buffer.from ignores junk in base64; a round trip proves the header was clean.
  if (bytes.length !== 16 || bytes.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) {
    throw new BadChecksumHeaderError('Content-MD5', value);
  }
  return bytes.toString('hex');
}
