import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
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

describe('bad values exit 2 naming the flag or variable, before anything is created', () => {
  it.each([
    [
      ['--driver', '../evil', 'stats'],
      {},
      `error: option '--driver <name>' argument '../evil' is invalid. "../evil" is neither sqlite, xattr nor an npm package name.`,
    ],
    [
      ['stats'],
      { IMGCACHE_DRIVER: '../evil' },
      'imgcache: error: Invalid IMGCACHE_DRIVER (the environment variable for --driver): "../evil" is neither sqlite, xattr nor an npm package name.',
    ],
    [
      ['stats'],
      { IMGCACHE_CHECKSUM_ALGORITHM: 'crc32' },
      'imgcache: error: Invalid IMGCACHE_CHECKSUM_ALGORITHM (the environment variable for --checksum-algorithm): "crc32" must be one of md5, sha256, sha512.',
    ],
    [
      ['--config=', 'stats'],
      {},
      "error: option '--config <file>' argument '' is invalid. a path is required, not an empty string.",
    ],
    [
      ['cache-image', 'x', '-', '--checksum', 'sha256:xyz'],
      {},
      `error: option '--checksum <checksum>' argument 'sha256:xyz' is invalid. Invalid checksum "sha256:xyz"`,
    ],
    [['get', 'x', '--output='], {}, "error: option '-o, --output <file>' argument '' is invalid. a path is required"],
  ] as [string[], Record<string, string>, string][])('%j %j', async (args, env, message) => {
    const result = await sandbox.run(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    await expect(access(sandbox.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // Before: --dir= resolved to the current directory and turned it into a cache.
  it('an empty --dir is refused instead of making the current directory the cache', async () => {
    const cwd = join(sandbox.root, 'cwd');
    await mkdir(cwd);
    const result = await sandbox.run(['--dir=', 'stats'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "error: option '--dir <path>' argument '' is invalid. a path is required, not an empty string.",
    );
    expect(await readdir(cwd)).toEqual([]);
  });
});

describe('enumerated values take any letter case, from flags, the environment and the config file', () => {
  it('reads SHA512, Md5, SQLite as sha512, md5, sqlite', async () => {
    expect(await sandbox.json(['--checksum-algorithm', 'SHA512', '--driver', 'SQLite', 'stats'])).toMatchObject({
      checksumAlgorithm: 'sha512',
      driver: 'sqlite',
    });
    expect(
      await sandbox.json(['stats'], { env: { IMGCACHE_CHECKSUM_ALGORITHM: 'Md5', IMGCACHE_DRIVER: 'SQLITE' } }),
    ).toMatchObject({ checksumAlgorithm: 'md5', driver: 'sqlite' });
    const config = join(sandbox.root, 'config.json');
    await writeFile(config, JSON.stringify({ checksumAlgorithm: 'SHA256' }));
    expect(await sandbox.json(['--config', config, 'stats'])).toMatchObject({ checksumAlgorithm: 'sha256' });
  });
});

describe('startup filesystem failures name the path and the real cause (exit 1)', () => {
  // Before: Node's recursive mkdir looped here until the 20 s kill.
  it('--dir /proc/imgcache fails at once with ENOENT and the path', async (context) => {
    if (!existsSync('/proc/self')) return context.skip('this host has no /proc');
    const result = await sandbox.run(['--dir', '/proc/imgcache', 'stats']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'imgcache: error: Cannot use cache directory /proc/imgcache: ENOENT: the filesystem refused to create it although its parent /proc exists',
    );
  });

  it('a read-only filesystem gives EROFS, not ENOENT', async (context) => {
    if (process.getuid?.() !== 0) return context.skip('mounting a read-only tmpfs needs root');
    const mountPoint = join(sandbox.root, 'ro');
    await mkdir(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      return context.skip(
        `mount -t tmpfs -o ro is not permitted here: ${(error as { stderr?: Buffer }).stderr?.toString().trim()}`,
      );
    }
    try {
      const dir = join(mountPoint, 'cache');
      const result = await sandbox.run(['--dir', dir, 'stats']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `imgcache: error: Cannot use cache directory ${dir}: EROFS: the filesystem is mounted read-only`,
      );
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  });
});
