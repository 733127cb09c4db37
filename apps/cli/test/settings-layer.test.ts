import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUDGET_FILE, rememberBudget, ImgcacheError } from '@imgcache/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../src/config.js';
import { exitStatusOf } from '../src/errors.js';
import { parseDuration } from '../src/format/parse-duration.js';
import { parseSize } from '../src/format/parse-size.js';
import { createSandbox, type Sandbox } from './helpers/run-cli.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

const KiB = 1024;
const GiB = 1024 ** 3;

describe('the budget a cache directory remembers', () => {
  it('is used when no flag, variable or config file gives one; any of them wins over it', async () => {
    const dir = join(sandbox.root, 'server-dir');
    await mkdir(dir);
    await rememberBudget(dir, GiB, 'imgcache-server 0.1.0');
    expect(await resolveSettings({ dir }, {})).toMatchObject({ cache: { maxSize: GiB }, budgetSource: 'remembered' });
    expect(await resolveSettings({ dir, maxSize: 5 }, {})).toMatchObject({
      cache: { maxSize: 5 },
      budgetSource: 'flag',
    });
    expect(await resolveSettings({ dir }, { IMGCACHE_MAX_SIZE: '2G' })).toMatchObject({
      cache: { maxSize: 2 * GiB },
      budgetSource: 'env',
    });
    const config = join(sandbox.root, 'imgcache.json');
    await writeFile(config, JSON.stringify({ maxSize: '3G' }));
    expect(await resolveSettings({ dir, config }, {})).toMatchObject({
      cache: { maxSize: 3 * GiB },
      budgetSource: 'file',
    });
    expect(await resolveSettings({ dir: join(sandbox.root, 'new') }, {})).toMatchObject({
      cache: { maxSize: 10 * GiB },
      budgetSource: 'default',
    });
  });

  it('refuses a corrupt budget file as a usage error that says how to recover', async () => {
    await rememberBudget(sandbox.root, GiB, 'x');
    await writeFile(join(sandbox.root, BUDGET_FILE), 'garbage');
    const error = await resolveSettings({ dir: sandbox.root }, {}).catch((caught: unknown) => caught);
    expect(ImgcacheError.is(error, 'ERR_IMGCACHE_CLI_USAGE') && exitStatusOf(error)).toBe(2);
    expect((error as Error).message).toMatch(/budget\.json: not valid JSON; pass --max-size, or delete the file/);
    expect(await resolveSettings({ dir: sandbox.root, maxSize: 1 }, {})).toMatchObject({ cache: { maxSize: 1 } });
  });

  // Before: stats and prune used the CLI's 10 GiB default in a server's 1 KiB directory.
  it('stats and prune in a directory use its remembered budget; --max-size still wins', async () => {
    for (const id of ['a', 'b', 'c']) {
      const cached = await sandbox.run(['cache-image', id, '-'], { input: Buffer.alloc(KiB, id) });
      expect(cached.code, cached.stderr).toBe(0);
    }
    await rememberBudget(sandbox.dir, 2 * KiB, 'imgcache-server 0.1.0');
    expect(await sandbox.json(['stats'])).toMatchObject({ maxSize: 2 * KiB, maxSizeSource: 'remembered' });
    expect((await sandbox.run(['stats'])).stdout).toContain(
      'Size        3 KiB of 2 KiB (150.0%), the budget the directory remembers\n',
    );
    expect(await sandbox.json(['--max-size', '1M', 'prune', '--dry-run'])).toMatchObject({
      maxSize: 1024 * KiB,
      files: 0,
    });
    expect(await sandbox.json(['prune'])).toMatchObject({ maxSize: 2 * KiB, files: 1, bytes: KiB });
  });

  it('a cache the CLI creates remembers the budget it was created with', async () => {
    expect((await sandbox.run(['--max-size', '5K', 'stats'])).code).toBe(0);
    expect(JSON.parse(await readFile(join(sandbox.dir, BUDGET_FILE), 'utf8'))).toMatchObject({
      maxSize: 5 * KiB,
      writtenBy: expect.stringMatching(/^imgcache \d/),
    });
    // Visiting it later with another budget does not change what it remembers.
    expect((await sandbox.run(['--max-size', '7K', 'stats'])).code).toBe(0);
    expect(await sandbox.json(['stats'])).toMatchObject({ maxSize: 5 * KiB, maxSizeSource: 'remembered' });
  });
});

describe('help', () => {
  // Before: `imgcache help prune` printed the help and exited 2.
  it.each([[['help', 'prune']], [['help']], [['prune', '--help']]])(
    'imgcache %j exits 0 with the help on stdout',
    async (args) => {
      const result = await sandbox.run(args);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Usage: imgcache/);
      if (args.includes('prune')) expect(result.stdout).toContain('Usage: imgcache prune');
    },
  );
});

describe('sizes and durations read by core, as the server reads them', () => {
  it('reads 1PiB, .5G, 1.5m and 24h from flags', () => {
    expect(parseSize('1PiB')).toBe(1024 ** 5);
    expect(parseSize('.5G')).toBe(GiB / 2);
    expect(parseDuration('1.5m')).toBe(90);
    expect(parseDuration('24h')).toBe(86_400);
  });

  it('names the setting and the same reason as the server for a bad value', async () => {
    const result = await sandbox.run(['stats'], { env: { IMGCACHE_STALL_TIME: '5w' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'imgcache: error: Invalid IMGCACHE_STALL_TIME (the environment variable for --stall-time): "5w" is not a duration; use seconds or a unit, e.g. 3600, 90s, 30m, 24h, 1d.\n',
    );
  });
});
