import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../helpers/run-cli.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

const COMMANDS = [
  'list-cached',
  'list-queued',
  'queue-image',
  'delete-cached-image',
  'delete-all-cached-images',
  'delete-queued-image',
  'delete-all-queued-images',
  'cache-image',
  'get',
  'prune',
  'clean',
  'verify',
  'stats',
  'prefetch',
  'import-glance',
  'demo',
];

describe('help', () => {
  it('lists every command, the environment, config precedence and exit codes', async () => {
    const result = await sandbox.run(['--help']);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(result.stdout).toContain('IMGCACHE_DIR');
    expect(result.stdout).toContain('flags win over the environment, which wins over --config');
    expect(result.stdout).toContain('Exit status: 0 ok, 1 the operation failed, 2 usage error.');
  });

  it.each(COMMANDS)('%s --help documents its options, the global options and an example', async (command) => {
    const result = await sandbox.run([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: imgcache ${command}`));
    expect(result.stdout).toContain('Global Options:');
    expect(result.stdout).toContain('--max-size <size>');
    expect(result.stdout).toMatch(new RegExp(`Examples:\\n  \\$ .*imgcache .*${command}`));
    await expect(access(sandbox.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // Before: the whole help on stderr, exit 2, and not a word about the name.
  it('help with an unknown command name exits 2 naming it and listing the commands; help NAME shows that command', async () => {
    const unknown = await sandbox.run(['help', 'bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(
      /^error: unknown command 'bogus'; the commands are list-cached, list-queued, .*, demo\n/,
    );
    expect(unknown.stderr).not.toContain('Usage:');
    const known = await sandbox.run(['help', 'stats']);
    expect(known.code).toBe(0);
    expect(known.stdout).toMatch(/^Usage: imgcache stats/);
    const all = await sandbox.run(['help']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^Usage: imgcache \[options\] \[command\]/);
  });

  it('prints the version', async () => {
    const result = await sandbox.run(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });
});

describe('exit codes for usage errors', () => {
  it.each([
    [['no-such-command'], /unknown command 'no-such-command'/],
    [['list-cached', '--no-such-flag'], /unknown option '--no-such-flag'/],
    [['--max-size', '10 potatoes', 'stats'], /"10 potatoes" is not a size/],
    [['--checksum-algorithm', 'crc32', 'stats'], /Allowed choices are md5, sha256, sha512/],
    [['queue-image'], /missing required argument 'id'/],
    [['get', 'a', 'b'], /too many arguments/],
    [[], /Usage: imgcache/],
  ])('%j exits 2', async (args, message) => {
    const result = await sandbox.run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    await expect(access(sandbox.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 2 for a bad size in the environment or config file', async () => {
    const env = await sandbox.run(['stats'], { env: { IMGCACHE_MAX_SIZE: 'huge' } });
    expect(env).toMatchObject({
      code: 2,
      stderr:
        'imgcache: error: Invalid IMGCACHE_MAX_SIZE (the environment variable for --max-size): "huge" is not a size; use bytes or a unit, e.g. 500M, 10GiB, 2GB.\n',
    });
    const config = join(sandbox.root, 'config.json');
    await writeFile(config, JSON.stringify({ maxSize: 'huge' }));
    const file = await sandbox.run(['--config', config, 'stats']);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(`Invalid "maxSize" in config file ${config}`);
  });
});

describe('errors', () => {
  it('prints one line without a stack trace, and the stack with --debug', async () => {
    const plain = await sandbox.run(['get', 'missing']);
    expect(plain).toMatchObject({ code: 1, stderr: 'imgcache: error: Image missing is not cached.\n' });
    const debug = await sandbox.run(['--debug', 'get', 'missing']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^NotCachedError: Image missing is not cached\.\n\s+at /);
  });
});

describe('configuration precedence', () => {
  it('takes flags over env over the --config file over defaults', async () => {
    const configDir = join(sandbox.root, 'etc');
    await mkdir(configDir);
    const config = join(configDir, 'imgcache.json');
    await writeFile(
      config,
      JSON.stringify({ dir: 'cache-from-file', maxSize: '1GiB', stallTime: '1h', checksumAlgorithm: 'md5' }),
    );
    const env = { IMGCACHE_DIR: undefined, IMGCACHE_MAX_SIZE: '2GiB' };

    const fromFile = await sandbox.json(['--config', config, 'stats'], { env });
    expect(fromFile).toMatchObject({
      dir: join(configDir, 'cache-from-file'),
      maxSize: 2 * 1024 ** 3,
      stallTime: 3600,
      checksumAlgorithm: 'md5',
    });

    const flags = await sandbox.json(
      ['--config', config, '--max-size', '3GiB', '--dir', join(sandbox.root, 'flag-dir'), 'stats'],
      { env: { ...env, IMGCACHE_STALL_TIME: '60' } },
    );
    expect(flags).toMatchObject({
      dir: join(sandbox.root, 'flag-dir'),
      maxSize: 3 * 1024 ** 3,
      stallTime: 60,
      checksumAlgorithm: 'md5',
    });
  });

  it('defaults to imgcache under XDG_CACHE_HOME when no dir is configured', async () => {
    const stats = await sandbox.json(['stats'], { env: { IMGCACHE_DIR: undefined } });
    expect(stats).toMatchObject({
      dir: join(sandbox.env.XDG_CACHE_HOME, 'imgcache'),
      driver: 'sqlite',
      maxSize: 10 * 1024 ** 3,
      stallTime: 86_400,
      checksumAlgorithm: 'sha256',
    });
  });
});

describe('drivers and logging', () => {
  it('warns on stderr and falls back to sqlite when the driver package is not installed', async () => {
    const result = await sandbox.run(['--json', '--driver', 'imgcache-driver-not-installed', 'stats']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^imgcache: warning: cache driver unavailable, falling back to sqlite: Cache driver package imgcache-driver-not-installed is not installed/,
    );
    expect(JSON.parse(result.stdout).driver).toBe('sqlite');
  });

  it('opens the xattr driver from the CLI dependencies with --driver xattr', async () => {
    await sandbox.run(['--driver', 'xattr', 'cache-image', 'x1', '-'], { input: 'xattr bytes' });
    const stats = await sandbox.json(['--driver', 'xattr', 'stats']);
    expect(stats).toMatchObject({ driver: 'xattr', count: 1, totalSize: 11 });
    expect((await sandbox.run(['--driver', 'xattr', 'get', 'x1'])).stdout).toBe('xattr bytes');
  });

  it('prints debug lines on stderr with --verbose', async () => {
    const result = await sandbox.run(['-v', 'list-queued']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`imgcache: debug: opened cache {"dir":"${sandbox.dir}","driver":"sqlite"}`);
    expect(result.stdout).toBe('No queued images.\n');
  });
});

describe('demo', () => {
  it('runs on the default directory with no flags and leaves its images listed', async () => {
    const result = await sandbox.run(['demo'], { env: { IMGCACHE_DIR: undefined } });
    expect(result.code, result.stderr).toBe(0);
    const dir = join(sandbox.env.XDG_CACHE_HOME, 'imgcache');
    expect(result.stdout).toContain(`Cache directory ${dir} (driver sqlite, sha256 checksums)`);
    expect(result.stdout).toContain('read demo-image-1 back: 1 MiB, bytes match, hits now 1');
    expect(result.stdout).toContain('refused a corrupt download: Checksum verification failed');
    expect(result.stdout).toContain('verify re-hashed 4 files on disk: all intact');
    expect(result.stdout).toContain('would evict, least recently used first: demo-image-2, demo-image-3');
    const again = await sandbox.run(['demo'], { env: { IMGCACHE_DIR: undefined } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('read demo-image-1 back: 1 MiB, bytes match, hits now 1');
    const json = await sandbox.json(['demo'], { env: { IMGCACHE_DIR: undefined } });
    expect(json).toMatchObject({
      dir,
      driver: 'sqlite',
      refusedCorrupt: true,
      readBack: { imageId: 'demo-image-1', bytes: 1024 * 1024, intact: true },
      verify: { checked: 4, failed: [] },
    });
    expect(json.prunePlan.images.map((image: { imageId: string }) => image.imageId)).toEqual([
      'demo-image-2',
      'demo-image-3',
    ]);
    const listed = await sandbox.json(['list-cached'], { env: { IMGCACHE_DIR: undefined } });
    expect(listed.cachedImages.map((image: { imageId: string }) => image.imageId)).toEqual([
      'demo-image-1',
      'demo-image-2',
      'demo-image-3',
      'demo-image-4',
    ]);
  });
});
