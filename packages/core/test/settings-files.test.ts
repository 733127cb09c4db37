import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BUDGET_FILE,
  ConfigFileError,
  ImgcacheError,
  describeSettingOrigin,
  openConfiguredCache,
  readConfigFile,
  readRememberedBudget,
  readSecretFile,
  rememberBudget,
  silentLogger,
} from '../src/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-settings-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, content);
  return path;
}

describe('readConfigFile', () => {
  it('reads TOML by its extension and JSON otherwise', async () => {
    const toml = await file(
      'server.toml',
      'dir = "/var/cache/imgcache"\nmaxSize = "20GiB"\nport = 9393\npublic = false\n',
    );
    expect(readConfigFile(toml)).toEqual({ dir: '/var/cache/imgcache', maxSize: '20GiB', port: 9393, public: false });
    const json = await file('imgcache.conf', '{"maxSize": 1000}');
    expect(readConfigFile(json)).toEqual({ maxSize: 1000 });
  });

  it.each([
    ['bad.toml', 'maxSize = ', /^Cannot read config file .*bad\.toml: not valid TOML: /],
    ['bad.json', '{not json', /^Cannot read config file .*bad\.json: not valid JSON: /],
    ['list.json', '[1, 2]', /must hold a JSON object of settings/],
  ])('refuses %s with the file named', async (name, content, message) => {
    const path = await file(name, content);
    expect(() => readConfigFile(path)).toThrow(ConfigFileError);
    expect(() => readConfigFile(path)).toThrow(message);
  });

  it('keeps a TOML float apart from an integer: floats come back as decimal text', async () => {
    const toml = await file(
      'floats.toml',
      'port = 9393.0\nmaxSize = 1.5\nstallTime = 90\nbig = 9007199254740993\n[nested]\nx = 2\n',
    );
    expect(readConfigFile(toml)).toEqual({
      port: '9393.0',
      maxSize: '1.5',
      stallTime: 90,
      big: '9007199254740993',
      nested: { x: 2 },
    });
  });

  it('refuses a JSON key given twice in one object, naming the key and the file', async () => {
    const json = await file('twice.json', '{"dir": "/a", "maxSize": "1G", "dir": "/b"}');
    let error: unknown;
    try {
      readConfigFile(json);
    } catch (caught) {
      error = caught;
    }
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CONFIG_FILE')).toBe(true);
    expect((error as Error).message).toBe(`Cannot read config file ${json}: the key "dir" is given twice; keep one`);
    // The same key in two different objects is no repeat.
    const nested = await file('nested.json', '{"a": {"x": 1}, "b": {"x": 2}}');
    expect(readConfigFile(nested)).toEqual({ a: { x: 1 }, b: { x: 2 } });
  });

  it('refuses a missing file with the reason', () => {
    expect(() => readConfigFile(join(root, 'missing.toml'))).toThrow(
      /^Cannot read config file .*missing\.toml: ENOENT/,
    );
  });
});

describe('readSecretFile', () => {
  it('drops one trailing line break and keeps the rest as written', async () => {
    expect(readSecretFile(await file('a', 's3cret\n'), '--admin-token-file')).toBe('s3cret');
    expect(readSecretFile(await file('b', 's3cret\r\n'), '--admin-token-file')).toBe('s3cret');
    expect(readSecretFile(await file('c', 's3cret'), '--admin-token-file')).toBe('s3cret');
  });

  it('refuses an empty or unreadable file, naming the setting', async () => {
    const empty = await file('empty', '\n');
    expect(() => readSecretFile(empty, '--origin-token-file')).toThrow(
      `Invalid --origin-token-file: ${empty} is empty.`,
    );
    const missing = join(root, 'missing');
    expect(() => readSecretFile(missing, 'IMGCACHE_ADMIN_TOKEN_FILE')).toThrow(
      `Invalid IMGCACHE_ADMIN_TOKEN_FILE: cannot read ${missing}: ENOENT.`,
    );
  });
});

describe('describeSettingOrigin', () => {
  it('names a flag, a variable with its flag, or a key with its file', () => {
    expect(describeSettingOrigin({ source: 'flag', flag: '--max-size' })).toBe('--max-size');
    expect(describeSettingOrigin({ source: 'env', env: 'IMGCACHE_MAX_SIZE', flag: '--max-size' })).toBe(
      'IMGCACHE_MAX_SIZE (the environment variable for --max-size)',
    );
    expect(describeSettingOrigin({ source: 'file', key: 'maxSize', file: '/etc/imgcache.toml' })).toBe(
      '"maxSize" in config file /etc/imgcache.toml',
    );
  });
});

describe('the remembered budget', () => {
  it('is absent until written, then read back', async () => {
    expect(await readRememberedBudget(root)).toBeNull();
    await rememberBudget(root, 1024 ** 3, 'imgcache-server 0.1.0');
    expect(await readRememberedBudget(root)).toMatchObject({ maxSize: 1024 ** 3, writtenBy: 'imgcache-server 0.1.0' });
    await rememberBudget(root, 5, 'imgcache 0.1.0');
    expect((await readRememberedBudget(root))?.maxSize).toBe(5);
    expect(await readdir(root)).toEqual([BUDGET_FILE]);
  });

  it('refuses a corrupt budget file, saying how to recover', async () => {
    await file(BUDGET_FILE, '{"maxSize": "lots"}');
    const error = await readRememberedBudget(root).catch((caught: unknown) => caught);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CONFIG_FILE')).toBe(true);
    expect((error as Error).message).toMatch(
      /"maxSize" is not a whole number of bytes; pass --max-size, or delete the file/,
    );
  });
});

describe('openConfiguredCache', () => {
  const settings = (dir: string, maxSize: number) => ({
    dir,
    driver: 'sqlite',
    maxSize,
    stallTime: 60,
    checksumAlgorithm: 'sha256' as const,
  });
  const importer = (specifier: string) => import(specifier);

  it('at-creation: records the budget of a new cache, not of an existing one', async () => {
    const dir = join(root, 'cache');
    const options = {
      importer,
      logger: silentLogger,
      rememberBudget: 'at-creation' as const,
      program: 'imgcache test',
    };
    await (await openConfiguredCache(settings(dir, 1000), options)).close();
    expect(await readRememberedBudget(dir)).toMatchObject({ maxSize: 1000, writtenBy: 'imgcache test' });
    await (await openConfiguredCache(settings(dir, 2000), options)).close();
    expect((await readRememberedBudget(dir))?.maxSize).toBe(1000);
  });

  it('always: records the current budget on every open', async () => {
    const dir = join(root, 'cache');
    const options = {
      importer,
      logger: silentLogger,
      rememberBudget: 'always' as const,
      program: 'imgcache-server test',
    };
    await (await openConfiguredCache(settings(dir, 1000), options)).close();
    await (await openConfiguredCache(settings(dir, 2000), options)).close();
    expect(JSON.parse(await readFile(join(dir, BUDGET_FILE), 'utf8'))).toMatchObject({
      maxSize: 2000,
      writtenBy: 'imgcache-server test',
    });
  });

  it('opens the cache even when the budget cannot be recorded, with a warning', async () => {
    const dir = join(root, 'cache');
    // A directory where the file belongs makes the rename fail, for root too.
    await mkdir(join(dir, BUDGET_FILE, 'x'), { recursive: true });
    const warnings: unknown[] = [];
    const logger = { ...silentLogger, warn: (obj: unknown) => void warnings.push(obj) };
    const cache = await openConfiguredCache(settings(dir, 2000), {
      importer,
      logger,
      rememberBudget: 'always',
      program: 'x',
    });
    expect(await cache.getCacheSize()).toBe(0);
    await cache.close();
    expect(warnings).toEqual([expect.objectContaining({ dir })]);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
