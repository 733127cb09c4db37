import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BadChecksumHeaderError, checksumFromHeaders } from '../../src/prefetch/response-checksum.js';

const md5 = createHash('md5').update('hello').digest();

describe('checksumFromHeaders', () => {
  it('has none without checksum headers', () => {
    expect(checksumFromHeaders(new Headers({ 'content-length': '5' }))).toBeUndefined();
  });

  it('reads an RFC 1864 base64 Content-MD5', () => {
    expect(checksumFromHeaders(new Headers({ 'content-md5': md5.toString('base64') }))).toBe(`md5:${md5.toString('hex')}`);
  });

  it("reads Glance's hex Content-MD5", () => {
    expect(checksumFromHeaders(new Headers({ 'content-md5': md5.toString('hex').toUpperCase() }))).toBe(`md5:${md5.toString('hex')}`);
  });

  it('prefers X-Checksum over Content-MD5', () => {
    const sha = `sha256:${createHash('sha256').update('hello').digest('hex')}`;
    expect(checksumFromHeaders(new Headers({ 'x-checksum': sha, 'content-md5': md5.toString('base64') }))).toBe(sha);
  });

  it("falls back to Glance v1's X-Image-Meta-Checksum", () => {
    expect(checksumFromHeaders(new Headers({ 'x-image-meta-checksum': md5.toString('hex') }))).toBe(md5.toString('hex'));
  });

  it.each([
    ['content-md5', 'not base64!'],
    ['content-md5', Buffer.from('short').toString('base64')],
    ['x-checksum', 'crc32:1234'],
    ['x-checksum', 'sha256:abc'],
  ])('refuses an unusable %s header %j', (name, value) => {
    expect(() => checksumFromHeaders(new Headers({ [name]: value }))).toThrow(BadChecksumHeaderError);
  });
});
