import { describe, expect, it } from 'vitest';
import { parseArguments } from '../src/cli-options.js';
import { parseMinFree, parseSize } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { addCacheApiVersions } from '../src/versions.js';
import { chooseChecksum, md5FromHeader } from '../src/origin-checksum.js';

describe('configuration', () => {
  it('parses sizes with binary and decimal units', () => {
    expect(parseSize('max-size', '1048576')).toBe(1_048_576);
    expect(parseSize('max-size', '512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('max-size', '10GiB')).toBe(10 * 1024 ** 3);
    expect(parseSize('max-size', '1.5 k')).toBe(1536);
    expect(parseSize('max-size', '500MB')).toBe(500 * 1000 ** 2);
    expect(parseSize('max-size', '2 TB')).toBe(2 * 1000 ** 4);
    expect(parseSize('max-size', '10b')).toBe(10);
    expect(() => parseSize('max-size', 'lots')).toThrow(ConfigError);
    expect(() => parseSize('max-size', '-1')).toThrow(/Invalid --max-size/);
  });

  it('parses the free-disk floor as bytes or a percentage', () => {
    expect(parseMinFree('5%')).toEqual({ percent: 5 });
    expect(parseMinFree('2G')).toEqual({ bytes: 2 * 1024 ** 3 });
    expect(() => parseMinFree('150%')).toThrow(ConfigError);
  });

  it('reads flags, with IMGCACHE_* variables as fallbacks', () => {
    process.env.IMGCACHE_AUTH_TTL = '5';
    try {
      const config = parseArguments(['--origin', 'http://glance:9292', '--dir', '/tmp/c', '--port', '0', '--public', '--max-size', '1G']);
      expect(config).toMatchObject({ origin: 'http://glance:9292', dir: '/tmp/c', port: 0, public: true, maxSize: 1024 ** 3, authTtl: 5, host: '127.0.0.1' });
      expect(config.minFree).toEqual({ percent: 5 });
    } finally {
      delete process.env.IMGCACHE_AUTH_TTL;
    }
    expect(() => parseArguments(['--dir', '/tmp/c'])).toThrow(/--origin/);
    expect(() => parseArguments(['--origin', 'ftp://x', '--dir', '/tmp/c'])).toThrow(/http/);
    expect(() => parseArguments(['--origin', 'http://x', '--dir', '/tmp/c', '--checksum-algorithm', 'crc'])).toThrow(/checksum-algorithm/);
  });
});

describe('version document', () => {
  it('adds the cache API versions once', () => {
    const document = JSON.stringify({ versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ href: 'http://x/v2/', rel: 'self' }] }] });
    const rewritten = JSON.parse(addCacheApiVersions(document)!);
    expect(rewritten.versions.map((entry: { id: string }) => entry.id)).toEqual(['v2.16', 'v2.15', 'v2.14', 'v2.9']);
    expect(JSON.parse(addCacheApiVersions(JSON.stringify(rewritten))!).versions).toHaveLength(4);
    expect(addCacheApiVersions('not json')).toBeNull();
    expect(addCacheApiVersions('{"other":1}')).toBeNull();
  });
});

describe('origin checksums', () => {
  const md5 = '0123456789abcdef0123456789abcdef';
  it('prefers the multihash, then the md5 checksum, then Content-MD5', () => {
    const sha512 = 'a'.repeat(128);
    expect(chooseChecksum({ os_hash_algo: 'sha512', os_hash_value: sha512, checksum: md5 }, undefined)).toBe(`sha512:${sha512}`);
    expect(chooseChecksum({ os_hash_algo: 'sha3_512', os_hash_value: 'zz', checksum: md5 }, undefined)).toBe(`md5:${md5}`);
    expect(chooseChecksum(null, md5.toUpperCase())).toBe(`md5:${md5}`);
    expect(chooseChecksum(null, Buffer.from(md5, 'hex').toString('base64'))).toBe(`md5:${md5}`);
    expect(chooseChecksum(null, undefined)).toBeUndefined();
    expect(md5FromHeader('garbage')).toBeUndefined();
  });
});
