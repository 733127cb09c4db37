import { ImgcacheError } from '@imgcache/core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUT, parseServerUrl, resolveConfig, resolveSettings } from '../src/config.js';
import { exitStatusOf } from '../src/errors.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-config-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function configFile(content: unknown): Promise<string> {
  const path = join(root, 'imgcache.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('resolveConfig', () => {
  it('uses the defaults, with the dir under XDG_CACHE_HOME', async () => {
    const config = await resolveConfig({}, { XDG_CACHE_HOME: join(root, 'xdg') });
    expect(config).toEqual({
      dir: join(root, 'xdg', 'imgcache'),
      driver: 'sqlite',
      maxSize: 10 * 1024 ** 3,
      stallTime: 86_400,
      checksumAlgorithm: 'sha256',
    });
  });

  it('applies flags over env over file over defaults, per key', async () => {
    const config = await configFile({
      dir: 'from-file',
      driver: 'xattr',
      maxSize: '1GiB',
      stallTime: '1h',
      checksumAlgorithm: 'md5',
    });
    const env = { IMGCACHE_DRIVER: 'sqlite', IMGCACHE_MAX_SIZE: '500M', IMGCACHE_STALL_TIME: '60' };
    const resolved = await resolveConfig({ config, maxSize: 42 }, env);
    expect(resolved).toEqual({
      dir: join(root, 'from-file'), // relative to the config file
      driver: 'sqlite', // env over file
      maxSize: 42, // flag over env
      stallTime: 60, // env over file
      checksumAlgorithm: 'md5', // file over default
    });
  });

  // Before: "unknown key origin" for the server's own file.
  it("reads imgcache-server's config file as it is: the cache keys apply, the server-only keys are skipped", async () => {
    const path = join(root, 'server.toml');
    await writeFile(
      path,
      [
        'origin = "http://glance.internal:9292"',
        'dir = "cache"',
        'maxSize = "200GiB"',
        'minFree = "10%"',
        'host = "0.0.0.0"',
        'port = 9393',
        'adminTokenFile = "/etc/imgcache/admin-token"',
        'authTtl = "2m"',
        'public = false',
        'checksumAlgorithm = "sha512"',
        'originCaFile = "/etc/imgcache/glance-ca.pem"',
        '',
      ].join('\n'),
    );
    expect(await resolveConfig({ config: path }, {})).toEqual({
      dir: join(root, 'cache'),
      driver: 'sqlite',
      maxSize: 200 * 1024 ** 3,
      stallTime: 86_400,
      checksumAlgorithm: 'sha512',
    });
    await writeFile(path, 'port = 9393\nmaxsize = "1G"\n');
    await expect(resolveConfig({ config: path }, {})).rejects.toThrow(
      /unknown key "maxsize"; known keys: dir, driver, maxSize, stallTime, checksumAlgorithm, url, token \(and imgcache-server's own keys, which are skipped\)/,
    );
  });

  it('accepts numbers in the file', async () => {
    const config = await configFile({ maxSize: 1000, stallTime: 5 });
    expect(await resolveConfig({ config }, {})).toMatchObject({ maxSize: 1000, stallTime: 5 });
  });

  it.each([
    [{ maxSize: 'lots' }, /maxSize.*not a size/],
    [{ maxSize: -1 }, /maxSize/],
    [{ checksumAlgorithm: 'crc32' }, /must be one of md5, sha256, sha512/],
    [{ colour: 'blue' }, /unknown key "colour"/],
    [[1, 2], /must hold a JSON object/],
    ['{not json', /Cannot read config file/],
  ])('rejects a bad config file %j as a usage error', async (content, message) => {
    const config = await configFile(content);
    const error = await resolveConfig({ config }, {}).catch((caught: unknown) => caught);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CLI_USAGE') && exitStatusOf(error)).toBe(2);
    expect((error as Error).message).toMatch(message);
  });

  it('rejects a bad environment value as a usage error naming the variable', async () => {
    const error = await resolveConfig({}, { IMGCACHE_MAX_SIZE: '10 potatoes' }).catch((caught: unknown) => caught);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CLI_USAGE') && exitStatusOf(error)).toBe(2);
    expect((error as Error).message).toMatch(/IMGCACHE_MAX_SIZE/);
  });

  it('reports a missing config file', async () => {
    await expect(resolveConfig({ config: join(root, 'missing.json') }, {})).rejects.toThrow(
      /Cannot read config file .*missing\.json/,
    );
  });
});

describe('resolveSettings: the server to manage', () => {
  it('has no server unless a url is set', async () => {
    expect((await resolveSettings({}, {})).remote).toBeUndefined();
  });

  it('takes url and token per key: flags over env over file', async () => {
    const config = await configFile({ url: 'http://from-file:9393', token: 'file-token' });
    const fromFile = await resolveSettings({ config }, {});
    expect(fromFile.remote).toEqual({
      url: new URL('http://from-file:9393/'),
      token: 'file-token',
      timeout: DEFAULT_TIMEOUT,
    });
    const mixed = await resolveSettings(
      { config, timeout: 5 },
      { IMGCACHE_URL: 'http://from-env:1/', IMGCACHE_TOKEN: 'env-token' },
    );
    expect(mixed.remote).toEqual({ url: new URL('http://from-env:1/'), token: 'env-token', timeout: 5 });
    const flags = await resolveSettings(
      { config, url: 'http://from-flag:2/', token: 'flag-token' },
      { IMGCACHE_TOKEN: 'env-token' },
    );
    expect(flags.remote).toMatchObject({ url: new URL('http://from-flag:2/'), token: 'flag-token' });
  });

  it('lets a --dir flag select the local directory over a url from the env or the file', async () => {
    const settings = await resolveSettings({ dir: join(root, 'local') }, { IMGCACHE_URL: 'http://cache:9393' });
    expect(settings.remote).toBeUndefined();
    expect(settings.cache.dir).toBe(join(root, 'local'));
  });

  it('refuses --dir and --url flags together as a usage error', async () => {
    const error = await resolveSettings({ dir: root, url: 'http://cache:9393/' }, {}).catch(
      (caught: unknown) => caught,
    );
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CLI_USAGE') && exitStatusOf(error)).toBe(2);
  });

  it('refuses a token that cannot be sent in a header', async () => {
    await expect(resolveSettings({ url: 'http://cache:9393/', token: 'abc\ndef' }, {})).rejects.toThrow(
      /printable ASCII/,
    );
  });

  it.each([
    [{ url: 'ftp://cache' }, /not an http:\/\/ or https:\/\/ URL/],
    [{ url: 42 }, /"url" in config file/],
    [{ token: '' }, /"token" in config file/],
  ])('rejects a bad server setting %j in the file', async (content, message) => {
    const config = await configFile(content);
    await expect(resolveSettings({ config }, {})).rejects.toThrow(message);
  });
});

describe('parseServerUrl', () => {
  it.each([
    ['http://cache:9393', 'http://cache:9393/'],
    ['https://gw.example.com/imgcache', 'https://gw.example.com/imgcache/'],
    ['http://cache:9393/?debug=1#x', 'http://cache:9393/'],
  ])('%s -> %s', (raw, expected) => {
    expect(parseServerUrl(raw)).toBe(expected);
  });

  it.each(['cache:9393', 'not a url', 'file:///tmp/x'])('rejects %s', (raw) => {
    expect(() => parseServerUrl(raw)).toThrow(/URL/);
  });
});
