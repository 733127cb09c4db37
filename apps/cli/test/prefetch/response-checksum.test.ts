import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BadChecksumHeaderError, checksumFromHeaders } from '../../src/prefetch/response-checksum.js';

const md5 = createHash('md5').update('hello').digest();

describe('checksumFromHeaders', () => {
  it('has none without checksum headers', () => {
    expect(checksumFromHeaders(new Headers({ 'content-length': '5' }))).toBeUndefined();
  });

  it('reads an RFC 1864 base64 Content-MD5', () => {
    expect(checksumFromHeaders(new Headers({ 'content-md5': md5.toString('base64') }))).toBe(
      `md5:${md5.toString('hex')}`,
    );
  });

  it("reads Glance's hex Content-MD5", () => {
    expect(checksumFromHeaders(new Headers({ 'content-md5': md5.toString('hex').toUpperCase() }))).toBe(
      `md5:${md5.toString('hex')}`,
    );
  });

  it('prefers X-Checksum over Content-MD5', () => {
    const sha = `sha256:${createHash('sha256').update('hello').digest('hex')}`;
    expect(checksumFromHeaders(new Headers({ 'x-checksum': sha, 'content-md5': md5.toString('base64') }))).toBe(sha);
  });

  it("falls back to Glance v1's X-Image-Meta-Checksum", () => {
    expect(checksumFromHeaders(new Headers({ 'x-image-meta-checksum': md5.toString('hex') }))).toBe(
      md5.toString('hex'),
    );
  });

  it.each([
    ['content-md5', 'not base64!'],
    ['content-md5', Buffer.from('short').toString('base64')],
    // The values the server's test of the same policy refuses (apps/server/test/origin-checksum.test.ts).
    ['content-md5', 'garbage'],
    ['content-md5', '0123456789abcdef0123456789abcde'],
    ['content-md5', createHash('md5').update('x').digest('base64').replace('==', '=')],
    ['x-checksum', 'crc32:1234'],
    ['x-checksum', 'sha256:abc'],
  ])('refuses an unusable %s header %j', (name, value) => {
    expect(() => checksumFromHeaders(new Headers({ [name]: value }))).toThrow(BadChecksumHeaderError);
    expect(() => checksumFromHeaders(new Headers({ [name]: value }))).toThrow(
      expect.objectContaining({ code: 'ERR_IMGCACHE_ORIGIN_RESPONSE' }),
    );
  });
});
