import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeOrigin } from '@imgcache/test-origin';
import { randomImage, waitFor } from './helpers/harness.js';
import { send } from './helpers/http-client.js';
import { runServerToExit, ServerProcess } from './helpers/server-process.js';

let root: string;
let dir: string;
let origin: FakeOrigin;
const servers: ServerProcess[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-startup-'));
  dir = join(root, 'cache');
  origin = await new FakeOrigin().start();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
  await origin.stop();
  await rm(root, { recursive: true, force: true });
});

async function start(args: readonly string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await ServerProcess.start(['--origin', origin.url, '--dir', dir, '--min-free', '0', ...args], env);
  servers.push(server);
  return server;
}

const good = { 'x-auth-token': 'good' };
const bad = { 'x-auth-token': 'bad' };

describe('public mode is on only when asked for', () => {
  // Before: any value of IMGCACHE_PUBLIC, even "false", switched public mode on.
  it.each(['false', '0', '', 'off', 'NO'])(
    'IMGCACHE_PUBLIC=%j: a cached image is still refused to a client the origin refuses',
    async (value) => {
      origin.add('private', { data: randomImage(64 * 1024), allowedTokens: ['good'] });
      const server = await start([], { IMGCACHE_PUBLIC: value });
      await waitFor(
        async () =>
          (await send(`${server.url}/v2/images/private/file`, { headers: good })).headers['x-cache'] === 'HIT',
      );
      const refused = await send(`${server.url}/v2/images/private/file`, { headers: bad });
      expect(refused.status).toBe(403);
      expect(refused.headers['x-cache']).toBeUndefined();
      expect((await server.waitForLog((line) => 'security' in line)).security).toMatchObject({ hits: 'authorised' });
    },
  );

  it('IMGCACHE_PUBLIC=on serves hits without asking the origin, and says so at startup', async () => {
    const data = randomImage(64 * 1024);
    origin.add('private', { data, allowedTokens: ['good'] });
    const server = await start([], { IMGCACHE_PUBLIC: 'on' });
    await waitFor(
      async () => (await send(`${server.url}/v2/images/private/file`, { headers: good })).headers['x-cache'] === 'HIT',
    );
    const hit = await send(`${server.url}/v2/images/private/file`, { headers: bad });
    expect(hit.status).toBe(200);
    expect(hit.body.equals(data)).toBe(true);
    const security = await server.waitForLog((line) => 'security' in line);
    expect(security.security).toMatchObject({ hits: 'public' });
    expect(security.msg).toMatch(/hits public/);
  });
});

describe('startup log line', () => {
  it('states every security mode in one line, and where the admin token came from, never the token', async () => {
    const server = await start(['--auth-ttl', '30', '--origin-token', 'origin-secret-2'], {
      IMGCACHE_ADMIN_TOKEN: 'admin-secret-1',
    });
    const lines = server.lines.filter((line) => 'security' in line);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.security).toEqual({
      hits: 'authorised',
      authTtl: 30,
      authStale: 0,
      managementApi: 'on',
      adminToken: 'env',
      originToken: 'flag',
      host: '127.0.0.1',
      accelRedirect: null,
    });
    expect(lines[0]!.msg).toBe(
      'security: hits authorised by the origin per client (remembered 30 s); management API on (admin token from IMGCACHE_ADMIN_TOKEN); ' +
        'origin token from --origin-token; listening on 127.0.0.1',
    );
    expect(server.stdout).not.toContain('admin-secret-1');
    expect(server.stdout).not.toContain('origin-secret-2');
  });

  it('says when the management API is off and when the admin token came from the flag', async () => {
    const off = await start([]);
    expect((await off.waitForLog((line) => 'security' in line)).security).toMatchObject({
      managementApi: 'off',
      adminToken: 'unset',
    });
    await off.kill();
    const fromFlag = await start(['--admin-token', 'flag-secret']);
    const line = await fromFlag.waitForLog((entry) => 'security' in entry);
    expect(line.security).toMatchObject({ managementApi: 'on', adminToken: 'flag' });
    expect(line.msg).toContain('admin token from --admin-token');
    expect(fromFlag.stdout).not.toContain('flag-secret');
  });
});

describe('startup warnings', () => {
  it('says a token read from --admin-token-file came from a file, and warns of settings that cannot work', async () => {
    const tokenFile = join(root, 'admin-token');
    await writeFile(tokenFile, 'file-secret\n');
    // 1 PiB is more than this disk, so no image could ever be cached.
    const server = await start(['--admin-token-file', tokenFile, '--public', '--auth-stale', '60', '--min-free', '1P']);
    const line = await server.waitForLog((entry) => 'security' in entry && typeof entry.security === 'object');
    expect(line.security).toMatchObject({ managementApi: 'on', adminToken: 'file', hits: 'public' });
    expect(line.msg).toContain(`admin token from --admin-token-file ${tokenFile}`);
    const stale = await server.waitForLog((entry) => entry.security === 'warning');
    expect(stale).toMatchObject({
      level: 40,
      msg: 'security: --auth-stale 60 has no effect with --public: hits are served without asking the origin',
    });
    const floor = await server.waitForLog(
      (entry) => typeof entry.msg === 'string' && entry.msg.startsWith('--min-free'),
    );
    expect(floor.level).toBe(40);
    expect(floor.msg).toMatch(
      new RegExp(
        `^--min-free asks to keep ${1024 ** 5} bytes free on a filesystem of \\d+ bytes \\(.*\\): no image can be cached; lower --min-free$`,
      ),
    );
    expect(server.stdout).not.toContain('file-secret');
  });
});

describe('bad flags and variables exit 2 before anything starts', () => {
  it.each([
    [
      ['--log-level', 'loud'],
      {},
      'imgcache-server: Invalid --log-level: "loud" must be one of fatal, error, warn, info, debug, trace, silent.',
    ],
    [
      [],
      { IMGCACHE_LOG_LEVEL: 'loud' },
      'imgcache-server: Invalid IMGCACHE_LOG_LEVEL (the environment variable for --log-level): "loud" must be one of',
    ],
    [['--bogus'], {}, "imgcache-server: unknown option '--bogus'"],
    [
      ['--public', 'maybe'],
      {},
      'imgcache-server: Invalid --public: "maybe" is not a boolean; use true, 1, yes, on or false, 0, no, off.',
    ],
    [
      [],
      { IMGCACHE_PUBLIC: 'enabled' },
      'imgcache-server: Invalid IMGCACHE_PUBLIC (the environment variable for --public)',
    ],
    [
      ['--checksum-algorithm', 'crc32'],
      {},
      'Invalid --checksum-algorithm: "crc32" must be one of md5, sha256, sha512.',
    ],
    [['--driver', '../evil'], {}, 'Invalid --driver: "../evil" is neither sqlite, xattr nor an npm package name.'],
    [['--port', '1e3'], {}, 'Invalid --port: "1e3" must be a whole number from 0 to 65535.'],
    [['--port'], {}, "option '--port <port>' argument missing"],
  ] as [string[], Record<string, string>, string][])('%j %j', (args, env, message) => {
    const result = runServerToExit(['--origin', origin.url, '--dir', dir, ...args], env);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(existsSync(dir)).toBe(false);
  });

  it('--help prints every flag with its variable and exits 0', () => {
    const result = runServerToExit(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--public [bool]');
    expect(result.stdout).toContain('IMGCACHE_PUBLIC');
  });
});

describe('startup filesystem failures name the path and the cause', () => {
  it('a read-only filesystem gives EROFS, not ENOENT', async (context) => {
    if (process.getuid?.() !== 0) return context.skip('mounting a read-only tmpfs needs root');
    const mountPoint = join(root, 'ro');
    await mkdir(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      return context.skip(
        `mount -t tmpfs -o ro is not permitted here: ${(error as { stderr?: Buffer }).stderr?.toString().trim()}`,
      );
    }
    try {
      for (const target of [join(mountPoint, 'cache'), mountPoint]) {
        const result = runServerToExit(['--origin', origin.url, '--dir', target]);
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(
          `imgcache-server: Cannot use cache directory ${target}: EROFS: the filesystem is mounted read-only`,
        );
      }
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  });

  // Before: Node's recursive mkdir looped forever here; the 20 s kill in runServerToExit bounds the test.
  it('--dir /proc/imgcache exits 1 at once with ENOENT and the path', (context) => {
    if (!existsSync('/proc/self')) return context.skip('this host has no /proc');
    const result = runServerToExit(['--origin', origin.url, '--dir', '/proc/imgcache']);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'Cannot use cache directory /proc/imgcache: ENOENT: the filesystem refused to create it although its parent /proc exists',
    );
  });

  it('a directory the server may not write gives EACCES', async (context) => {
    const parent = join(root, 'locked');
    await mkdir(parent);
    const target = join(parent, 'cache');
    const asRoot = process.getuid?.() === 0;
    // Root ignores permission bits, so run the server as "nobody" when root; otherwise lock the parent.
    const user = asRoot ? { uid: 65_534, gid: 65_534 } : {};
    if (asRoot) {
      await chmod(root, 0o755);
      await chmod(parent, 0o755);
      const probe = runServerToExit(['--help'], {}, user);
      if (probe.status !== 0) return context.skip(`the server cannot run as uid 65534 here: ${probe.stderr.trim()}`);
    } else {
      await chmod(parent, 0o555);
    }
    const result = runServerToExit(['--origin', origin.url, '--dir', target], {}, user);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`Cannot use cache directory ${target}: EACCES: permission denied`);
  });
});
