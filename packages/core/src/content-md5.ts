import { InvalidChecksumError } from './errors.js';

/**
 * The checksum a `Content-MD5` header announces, as `md5:<32 lowercase hex>`. Accepts the
 * two forms origins send: RFC 1864's base64 of the 16-byte digest (24 characters with their
 * `==` padding, or 22 without), and the 32 hex digits Glance sends (any case).
 *
 * One policy for every origin client (the server's fills and the CLI's prefetch): a header
 * that is present but cannot be read is refused, never ignored, because ignoring it would
 * cache bytes unverified that the origin meant to be verified.
 * @throws {InvalidChecksumError} for any other value.
 */
export function parseContentMd5(value: string): string {
  const trimmed = value.trim();
  if (/^[0-9a-f]{32}$/i.test(trimmed)) return `md5:${trimmed.toLowerCase()}`;
  if (/^[A-Za-z0-9+/]{22}(?:==)?$/.test(trimmed)) {
    const digest = Buffer.from(trimmed, 'base64');
    // 22 characters carry 132 bits: the round trip refuses a last character with stray low bits.
    if (digest.length === 16 && digest.toString('base64') === `${trimmed.slice(0, 22)}==`)
      return `md5:${digest.toString('hex')}`;
  }
  throw new InvalidChecksumError(
    trimmed,
    'a Content-MD5 header holds the base64 (RFC 1864) or 32 hex digits of a 16-byte md5 digest',
  );
}
