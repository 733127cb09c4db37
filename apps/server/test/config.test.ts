import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseArguments } from '../src/cli-options.js';
import { parseMinFree, parseSize } from '../src/flag-values.js';
import { ConfigError } from '../src/errors.js';
import { addCacheApiVersions } from '../src/versions.js';
import { announcedChecksums, md5FromHeader } from '../src/origin-checksum.js';
import { OriginResponseError } from '../src/errors.js';

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
      const config = parseArguments([
        '--origin',
        'http://glance:9292',
        '--dir',
        '/tmp/c',
        '--port',
        '0',
        '--public',
        '--max-size',
        '1G',
      ]);
      expect(config).toMatchObject({
        origin: 'http://glance:9292',
        dir: '/tmp/c',
        port: 0,
        public: true,
        maxSize: 1024 ** 3,
        authTtl: 5,
        host: '127.0.0.1',
      });
      expect(config.minFree).toEqual({ percent: 5 });
    } finally {
      delete process.env.IMGCACHE_AUTH_TTL;
    }
    expect(() => parseArguments(['--dir', '/tmp/c'])).toThrow(/--origin/);
    expect(() => parseArguments(['--origin', 'ftp://x', '--dir', '/tmp/c'])).toThrow(/http/);
    expect(() => parseArguments(['--origin', 'http://x', '--dir', '/tmp/c', '--checksum-algorithm', 'crc'])).toThrow(
      /checksum-algorithm/,
    );
  });
});

/** Runs `work` with IMGCACHE_* variables set in process.env (where the server reads them), then restores it. */
function withEnv<T>(values: Record<string, string>, work: () => T): T {
  const saved = { ...process.env };
  Object.assign(process.env, values);
  try {
    return work();
  } finally {
    for (const key of Object.keys(values)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

const BASE = ['--origin', 'http://glance:9292', '--dir', '/tmp/c'];

function configError(work: () => unknown): ConfigError {
  try {
    work();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no ConfigError was thrown');
}

describe('strict booleans and enumerations', () => {
  it.each(['false', '0', '', 'off', 'no', 'FALSE', 'Off'])('IMGCACHE_PUBLIC=%j leaves public mode off', (value) => {
    expect(withEnv({ IMGCACHE_PUBLIC: value }, () => parseArguments(BASE)).public).toBe(false);
  });

  it.each(['true', '1', 'yes', 'on', 'TRUE', 'Yes'])('IMGCACHE_PUBLIC=%j turns public mode on', (value) => {
    expect(withEnv({ IMGCACHE_PUBLIC: value }, () => parseArguments(BASE)).public).toBe(true);
  });

  it('reads --public bare as on and --public=<word> strictly; the flag wins over the variable', () => {
    expect(parseArguments(BASE).public).toBe(false);
    expect(parseArguments([...BASE, '--public']).public).toBe(true);
    expect(parseArguments([...BASE, '--public=off']).public).toBe(false);
    expect(parseArguments([...BASE, '--public', 'no', '--port', '0'])).toMatchObject({ public: false, port: 0 });
    expect(withEnv({ IMGCACHE_PUBLIC: 'true' }, () => parseArguments([...BASE, '--public=false'])).public).toBe(false);
  });

  it('refuses any other boolean word, naming the flag or the variable and the accepted words', () => {
    expect(configError(() => parseArguments([...BASE, '--public=maybe'])).message).toBe(
      'Invalid --public: "maybe" is not a boolean; use true, 1, yes, on or false, 0, no, off.',
    );
    const fromEnv = configError(() => withEnv({ IMGCACHE_PUBLIC: 'enabled' }, () => parseArguments(BASE)));
    expect(fromEnv).toMatchObject({ option: 'public', env: 'IMGCACHE_PUBLIC' });
    expect(fromEnv.message).toBe(
      'Invalid IMGCACHE_PUBLIC (the environment variable for --public): "enabled" is not a boolean; use true, 1, yes, on or false, 0, no, off.',
    );
  });

  it('reads --trust-proxy as addresses or CIDR ranges and refuses anything else', () => {
    expect(parseArguments(BASE).trustProxy).toBeUndefined();
    expect(parseArguments([...BASE, '--trust-proxy', '127.0.0.1, 10.0.0.0/8,::1']).trustProxy).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
    ]);
    for (const bad of ['nginx', '10.0.0.0/33', '1.2.3.4/8/1', ',', '::1/129']) {
      expect(() => parseArguments([...BASE, '--trust-proxy', bad]), bad).toThrow(/trust-proxy/);
    }
  });

  it('reads --accel-redirect as a URI path prefix and refuses anything nginx could read otherwise', () => {
    expect(parseArguments(BASE).accelRedirect).toBeUndefined();
    expect(parseArguments([...BASE, '--accel-redirect', '/_imgcache/']).accelRedirect).toBe('/_imgcache/');
    expect(withEnv({ IMGCACHE_ACCEL_REDIRECT: '/internal/images/' }, () => parseArguments(BASE)).accelRedirect).toBe(
      '/internal/images/',
    );
    for (const bad of ['_imgcache/', '/_imgcache', '/../etc/', '/a b/', '/x/./', 'http://x/']) {
      expect(() => parseArguments([...BASE, '--accel-redirect', bad]), bad).toThrow(/accel-redirect/);
    }
  });

  it('reads enumerated values in any letter case and refuses others with the accepted values', () => {
    expect(
      parseArguments([...BASE, '--log-level', 'DEBUG', '--checksum-algorithm', 'SHA512', '--driver', 'SQLite']),
    ).toMatchObject({
      logLevel: 'debug',
      checksumAlgorithm: 'sha512',
      driver: 'sqlite',
    });
    expect(configError(() => parseArguments([...BASE, '--log-level', 'loud'])).message).toBe(
      'Invalid --log-level: "loud" must be one of fatal, error, warn, info, debug, trace, silent.',
    );
    expect(configError(() => withEnv({ IMGCACHE_LOG_LEVEL: 'loud' }, () => parseArguments(BASE))).message).toMatch(
      /^Invalid IMGCACHE_LOG_LEVEL .*"loud" must be one of fatal/,
    );
    expect(configError(() => withEnv({ IMGCACHE_CHECKSUM_ALGORITHM: 'crc32' }, () => parseArguments(BASE))).env).toBe(
      'IMGCACHE_CHECKSUM_ALGORITHM',
    );
    expect(configError(() => parseArguments([...BASE, '--driver', '../evil'])).message).toMatch(
      /^Invalid --driver: "\.\.\/evil" is neither sqlite, xattr nor an npm package name/,
    );
  });

  it('treats an empty variable as unset and reads numbers as digits only', () => {
    expect(
      withEnv({ IMGCACHE_PORT: '', IMGCACHE_ADMIN_TOKEN: '', IMGCACHE_LOG_LEVEL: '' }, () => parseArguments(BASE)),
    ).toMatchObject({
      port: 9393,
      adminToken: undefined,
      logLevel: 'info',
    });
    for (const port of ['', ' ', '0x10', '1e3', '-1', '80.5']) {
      expect(configError(() => parseArguments([...BASE, `--port=${port}`])).option).toBe('port');
    }
    expect(configError(() => withEnv({ IMGCACHE_AUTH_TTL: '1e3' }, () => parseArguments(BASE))).env).toBe(
      'IMGCACHE_AUTH_TTL',
    );
    expect(configError(() => parseArguments([...BASE, '--min-free', '%'])).option).toBe('min-free');
  });

  it('checks the listen address, the tokens and the directory before anything starts', () => {
    expect(parseArguments([...BASE, '--host', '::1']).host).toBe('::1');
    expect(parseArguments([...BASE, '--host', 'cache-1.internal']).host).toBe('cache-1.internal');
    expect(configError(() => parseArguments([...BASE, '--host', '[::1]'])).message).toMatch(/without brackets/);
    expect(configError(() => parseArguments([...BASE, '--host', 'a host'])).option).toBe('host');
    expect(configError(() => parseArguments([...BASE, '--admin-token', 'line\nbreak'])).option).toBe('admin-token');
    expect(configError(() => withEnv({ IMGCACHE_ORIGIN_TOKEN: ' padded' }, () => parseArguments(BASE))).env).toBe(
      'IMGCACHE_ORIGIN_TOKEN',
    );
    expect(configError(() => parseArguments(['--origin', 'http://x', '--dir='])).option).toBe('dir');
  });

  it('throws on an unknown flag or a flag without its value instead of exiting', () => {
    expect(() => parseArguments([...BASE, '--bogus'])).toThrow(CommanderError);
    expect(() => parseArguments([...BASE, '--bogus'])).toThrow("unknown option '--bogus'");
    expect(() => parseArguments([...BASE, '--port'])).toThrow("option '--port <port>' argument missing");
  });

  it('records where each setting came from', () => {
    const fromFlag = parseArguments([...BASE, '--admin-token', 'secret']);
    expect(fromFlag.sources).toMatchObject({ adminToken: 'flag', origin: 'flag', port: 'default' });
    const fromEnv = withEnv({ IMGCACHE_ADMIN_TOKEN: 'secret' }, () => parseArguments(BASE));
    expect(fromEnv.sources).toMatchObject({ adminToken: 'env' });
    expect(parseArguments(BASE).sources?.adminToken).toBeUndefined();
  });
});

describe('version document', () => {
  it('adds the cache API versions once', () => {
    const document = JSON.stringify({
      versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ href: 'http://x/v2/', rel: 'self' }] }],
    });
    const rewritten = JSON.parse(addCacheApiVersions(document)!);
    expect(rewritten.versions.map((entry: { id: string }) => entry.id)).toEqual(['v2.16', 'v2.15', 'v2.14', 'v2.9']);
    expect(JSON.parse(addCacheApiVersions(JSON.stringify(rewritten))!).versions).toHaveLength(4);
    expect(addCacheApiVersions('not json')).toBeNull();
    expect(addCacheApiVersions('{"other":1}')).toBeNull();
  });
});

describe('origin checksums', () => {
  const md5 = '0123456789abcdef0123456789abcdef';
  const sha512 = 'a'.repeat(128);
  it('verifies every announced checksum and records the md5 when there is one, else the multihash', () => {
    expect(announcedChecksums({ os_hash_algo: 'sha512', os_hash_value: sha512, checksum: md5 }, undefined)).toEqual({
      checksums: [`sha512:${sha512}`, `md5:${md5}`],
      md5,
      recorded: `md5:${md5}`,
    });
    expect(announcedChecksums({ os_hash_algo: 'sha512', os_hash_value: sha512 }, undefined)).toEqual({
      checksums: [`sha512:${sha512}`],
      md5: undefined,
      recorded: `sha512:${sha512}`,
    });
    expect(
      announcedChecksums({ os_hash_algo: 'sha3_512', os_hash_value: 'zz', checksum: md5 }, undefined).checksums,
    ).toEqual([`md5:${md5}`]);
    expect(announcedChecksums(null, md5.toUpperCase())).toEqual({
      checksums: [`md5:${md5}`],
      md5,
      recorded: `md5:${md5}`,
    });
    expect(announcedChecksums(null, Buffer.from(md5, 'hex').toString('base64')).md5).toBe(md5);
    expect(announcedChecksums(null, undefined)).toEqual({ checksums: [], md5: undefined, recorded: undefined });
    expect(() => md5FromHeader('garbage')).toThrow(OriginResponseError);
    expect(() => announcedChecksums({ checksum: 'not-hex' }, undefined)).toThrow(
      /metadata's checksum "not-hex" is not a md5 digest/,
    );
    expect(() => announcedChecksums({ os_hash_algo: 'sha512', os_hash_value: 'abc' }, undefined)).toThrow(
      OriginResponseError,
    );
  });

  it('keeps both md5 values when the metadata and Content-MD5 disagree, so the download fails verification', () => {
    const other = 'f'.repeat(32);
    expect(announcedChecksums({ checksum: md5 }, other).checksums).toEqual([`md5:${md5}`, `md5:${other}`]);
  });
});
