import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { CliError } from '../src/errors.js';

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
    expect(config).toEqual({ dir: join(root, 'xdg', 'imgcache'), driver: 'sqlite', maxSize: 10 * 1024 ** 3, stallTime: 86_400, checksumAlgorithm: 'sha256' });
  });

  it('applies flags over env over file over defaults, per key', async () => {
    const config = await configFile({ dir: 'from-file', driver: 'xattr', maxSize: '1GiB', stallTime: '1h', checksumAlgorithm: 'md5' });
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
    expect(CliError.is(error) && error.exitStatus).toBe(2);
    expect((error as Error).message).toMatch(message);
  });

  it('rejects a bad environment value as a usage error naming the variable', async () => {
    const error = await resolveConfig({}, { IMGCACHE_MAX_SIZE: '10 potatoes' }).catch((caught: unknown) => caught);
    expect(CliError.is(error) && error.exitStatus).toBe(2);
    expect((error as Error).message).toMatch(/IMGCACHE_MAX_SIZE/);
  });

  it('reports a missing config file', async () => {
    await expect(resolveConfig({ config: join(root, 'missing.json') }, {})).rejects.toThrow(/Cannot read config file .*missing\.json/);
  });
});
