import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_SETTINGS, readRememberedBudget, SERVER_ONLY_SETTINGS } from '@imgcache/core';
import { CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseArguments } from '../src/cli-options.js';
import { ConfigError } from '../src/errors.js';
import { describeSecurityModes } from '../src/security-modes.js';
import { startHarness } from './helpers/harness.js';
import { runServerToExit } from './helpers/server-process.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-settings-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const BASE = ['--origin', 'http://glance:9292', '--dir', '/tmp/c'];

async function file(name: string, content: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, content);
  return path;
}

function thrown(work: () => unknown): Error {
  try {
    work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('nothing was thrown');
}

// Before: the server took only whole seconds and K/M/G/T sizes, while the CLI took these.
describe('sizes and durations read by core, as the CLI reads them', () => {
  it('reads 1PiB, .5G and durations with units in every duration setting', () => {
    const config = parseArguments(
      [
        ...BASE,
        '--max-size',
        '1PiB',
        '--min-free',
        '.5G',
        '--stall-time',
        '24h',
        '--maintenance-interval',
        '5m',
        '--auth-ttl',
        '1.5m',
      ],
      {
        IMGCACHE_ORIGIN_IDLE_TIMEOUT: '90s',
        IMGCACHE_ORIGIN_HEADER_TIMEOUT: '2m',
        IMGCACHE_ORIGIN_CONNECT_TIMEOUT: '.5m',
      },
    );
    expect(config).toMatchObject({
      maxSize: 1024 ** 5,
      minFree: { bytes: 512 * 1024 ** 2 },
      stallTime: 86_400,
      maintenanceInterval: 300,
      authTtl: 90,
      originIdleTimeout: 90,
      originHeaderTimeout: 120,
      originConnectTimeout: 30,
    });
  });

  it('refuses a fractional byte count instead of rounding it down to a byte, and keeps 1.5G', () => {
    expect(thrown(() => parseArguments([...BASE, '--max-size', '1.5'], {})).message).toBe(
      'Invalid --max-size: "1.5" is not a whole number of bytes; give bytes as digits or a unit, e.g. 1536, 1.5K, 1.5G.',
    );
    expect(thrown(() => parseArguments([...BASE, '--min-free', '0.5'], {})).message).toMatch(
      /^Invalid --min-free: "0.5" is not a whole number of bytes/,
    );
    expect(parseArguments([...BASE, '--max-size', '1.5G'], {}).maxSize).toBe(1.5 * 1024 ** 3);
  });

  it('refuses a bad duration with the same reason as the CLI, naming the flag or the variable', () => {
    expect(thrown(() => parseArguments([...BASE, '--stall-time', '5w'], {})).message).toBe(
      'Invalid --stall-time: "5w" is not a duration; use seconds or a unit, e.g. 3600, 90s, 30m, 24h, 1d.',
    );
    expect(thrown(() => parseArguments([...BASE, '--auth-ttl', '2.5'], {})).message).toBe(
      'Invalid --auth-ttl: "2.5" is not a whole number of seconds; e.g. 90, 90s, 1.5m.',
    );
    expect(thrown(() => parseArguments(BASE, { IMGCACHE_STALL_TIME: '5w' })).message).toBe(
      'Invalid IMGCACHE_STALL_TIME (the environment variable for --stall-time): "5w" is not a duration; use seconds or a unit, e.g. 3600, 90s, 30m, 24h, 1d.',
    );
  });
});

describe('--config FILE', () => {
  it('reads TOML with precedence flags > env > file > defaults, per key, and paths relative to the file', async () => {
    const config = await file(
      'server.toml',
      [
        'origin = "http://glance:9292"',
        'dir = "cache"',
        'maxSize = "2GiB"',
        'stallTime = "1h"',
        'port = 9000',
        'public = true',
        'logLevel = "warn"',
      ].join('\n'),
    );
    const parsed = parseArguments(['--config', config, '--port', '0'], {
      IMGCACHE_MAX_SIZE: '3G',
      IMGCACHE_LOG_LEVEL: '',
    });
    expect(parsed).toMatchObject({
      origin: 'http://glance:9292', // file
      dir: join(root, 'cache'), // file, relative to it
      maxSize: 3 * 1024 ** 3, // env over file
      stallTime: 3600, // file
      port: 0, // flag over file
      public: true, // file
      logLevel: 'warn', // file (an empty variable is unset)
      authTtl: 60, // default
    });
    expect(parsed.sources).toMatchObject({ origin: 'file', maxSize: 'env', port: 'flag', authTtl: 'default' });
  });

  it('reads JSON too, with numbers and booleans', async () => {
    const config = await file(
      'server.json',
      JSON.stringify({
        origin: 'http://glance:9292',
        dir: '/var/cache/imgcache',
        maxSize: 1000,
        public: false,
        authTtl: 5,
      }),
    );
    expect(parseArguments(['--config', config], {})).toMatchObject({
      dir: '/var/cache/imgcache',
      maxSize: 1000,
      public: false,
      authTtl: 5,
    });
  });

  it('refuses a bad value naming the key and the file', async () => {
    const config = await file('server.toml', 'origin = "http://glance:9292"\ndir = "/c"\nmaxSize = "lots"\n');
    const error = thrown(() => parseArguments(['--config', config], {}));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ file: config, key: 'maxSize' });
    expect(error.message).toBe(
      `Invalid "maxSize" in config file ${config}: "lots" is not a size; use bytes or a unit, e.g. 500M, 10GiB, 2GB.`,
    );
    const table = await file('table.toml', 'origin = "http://glance:9292"\ndir = "/c"\n[port]\nvalue = 1\n');
    expect(thrown(() => parseArguments(['--config', table], {})).message).toBe(
      `Invalid "port" in config file ${table}: {"value":1} is not a string, number or boolean.`,
    );
  });

  it('refuses a TOML float where a whole number is meant, and a JSON key given twice', async () => {
    const port = await file('port.toml', 'origin = "http://glance:9292"\ndir = "/c"\nport = 9393.0\n');
    expect(thrown(() => parseArguments(['--config', port], {})).message).toBe(
      `Invalid "port" in config file ${port}: "9393.0" must be a whole number from 0 to 65535.`,
    );
    const size = await file('size.toml', 'origin = "http://glance:9292"\ndir = "/c"\nmaxSize = 1.5\n');
    expect(thrown(() => parseArguments(['--config', size], {})).message).toBe(
      `Invalid "maxSize" in config file ${size}: "1.5" is not a whole number of bytes; give bytes as digits or a unit, e.g. 1536, 1.5K, 1.5G.`,
    );
    const twice = await file(
      'server.json',
      '{"origin": "http://glance:9292", "dir": "/c", "maxSize": "1G", "maxSize": "2G"}',
    );
    expect(thrown(() => parseArguments(['--config', twice], {})).message).toBe(
      `Cannot read config file ${twice}: the key "maxSize" is given twice; keep one`,
    );
  });

  it('refuses an unknown key, naming it, the file and the known keys', async () => {
    const config = await file('server.toml', 'origin = "http://glance:9292"\nmax_size = "1G"\n');
    expect(thrown(() => parseArguments(['--config', config], {})).message).toMatch(
      new RegExp(
        `^Invalid --config: ${config} has an unknown key "max_size"; known keys: origin, host, port, dir, driver, maxSize, `,
      ),
    );
  });

  // The imgcache CLI reads this file too and skips exactly these keys (core's SERVER_ONLY_SETTINGS).
  it("knows the cache keys and core's list of server-only keys, no more and no fewer", async () => {
    const config = await file('server.toml', 'origin = "http://glance:9292"\nno_such_key = 1\n');
    const known = /known keys: (.*)\.$/
      .exec(thrown(() => parseArguments(['--config', config], {})).message)![1]!
      .split(', ');
    expect(new Set(known)).toEqual(new Set([...Object.keys(CACHE_SETTINGS), ...SERVER_ONLY_SETTINGS]));
  });

  it('refuses an unreadable or malformed file, and the binary exits 2', async () => {
    const broken = await file('broken.toml', 'origin = \n');
    expect(thrown(() => parseArguments(['--config', broken], {})).message).toMatch(
      /^Cannot read config file .*broken\.toml: not valid TOML/,
    );
    const result = runServerToExit(['--config', join(root, 'missing.toml')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^imgcache-server: Cannot read config file .*missing\.toml: ENOENT/);
  });
});

describe('secrets from files', () => {
  it('reads --admin-token-file and IMGCACHE_ORIGIN_TOKEN_FILE, dropping one trailing line break', async () => {
    const admin = await file('admin', 'admin-secret\n');
    const originToken = await file('origin', 'origin-secret\r\n');
    const config = parseArguments([...BASE, '--admin-token-file', admin], { IMGCACHE_ORIGIN_TOKEN_FILE: originToken });
    expect(config).toMatchObject({
      adminToken: 'admin-secret',
      originToken: 'origin-secret',
      secretFiles: { adminToken: admin, originToken },
    });
    expect(config.sources).toMatchObject({ adminToken: 'flag', originToken: 'env' });
    const { message } = describeSecurityModes(config);
    expect(message).toContain(`admin token from --admin-token-file ${admin}`);
    expect(message).toContain(`origin token from IMGCACHE_ORIGIN_TOKEN_FILE ${originToken}`);
    expect(message).not.toMatch(/-secret/);
  });

  it('takes a token file named in the config file, relative to it', async () => {
    await mkdir(join(root, 'secrets'));
    await file('secrets/admin', 'from-file');
    const config = await file(
      'server.toml',
      'origin = "http://glance:9292"\ndir = "/c"\nadminTokenFile = "secrets/admin"\n',
    );
    expect(parseArguments(['--config', config], {}).adminToken).toBe('from-file');
  });

  it('lets the higher source win and refuses the token and its file from the same source', async () => {
    const admin = await file('admin', 'from-file');
    expect(
      parseArguments([...BASE, '--admin-token', 'from-flag'], { IMGCACHE_ADMIN_TOKEN_FILE: admin }).adminToken,
    ).toBe('from-flag');
    expect(
      parseArguments([...BASE, '--admin-token-file', admin], { IMGCACHE_ADMIN_TOKEN: 'from-env' }).adminToken,
    ).toBe('from-file');
    expect(thrown(() => parseArguments([...BASE, '--admin-token', 'x', '--admin-token-file', admin], {})).message).toBe(
      'Invalid --admin-token-file: give either --admin-token or --admin-token-file, not both.',
    );
  });

  it('names the file flag for an unreadable file or an unusable token in it', async () => {
    const missing = join(root, 'missing');
    expect(thrown(() => parseArguments([...BASE, '--admin-token-file', missing], {})).message).toBe(
      `Invalid --admin-token-file: cannot read ${missing}: ENOENT.`,
    );
    const bad = await file('bad', 'two\nlines\n');
    const error = thrown(() => parseArguments(BASE, { IMGCACHE_ORIGIN_TOKEN_FILE: bad }));
    expect(error).toMatchObject({ option: 'origin-token-file', env: 'IMGCACHE_ORIGIN_TOKEN_FILE' });
    expect(error.message).toMatch(/must be printable ASCII/);
  });
});

describe('origin TLS files', () => {
  it('checks each file before start and wants the certificate and key together', async () => {
    const pem = await file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(parseArguments([...BASE, '--origin-ca-file', pem], {}).originCaFile).toBe(pem);
    expect(thrown(() => parseArguments([...BASE, '--origin-ca-file', join(root, 'nope.pem')], {})).message).toMatch(
      /^Invalid --origin-ca-file: cannot read .*nope\.pem: ENOENT\.$/,
    );
    const notPem = await file('not.pem', 'hello');
    expect(thrown(() => parseArguments([...BASE, '--origin-ca-file', notPem], {})).message).toMatch(
      /holds no PEM block/,
    );
    expect(thrown(() => parseArguments([...BASE, '--origin-cert-file', pem], {})).message).toBe(
      'Invalid --origin-key-file: --origin-cert-file and --origin-key-file go together; --origin-key-file (or IMGCACHE_ORIGIN_KEY_FILE) is missing.',
    );
  });
});

describe('--version', () => {
  // Before: "unknown option '--version'" and exit 2.
  it('prints the version and exits 0', () => {
    expect(thrown(() => parseArguments(['--version'], {}))).toMatchObject({ code: 'commander.version' });
    expect(thrown(() => parseArguments(['--version'], {}))).toBeInstanceOf(CommanderError);
    const result = runServerToExit(['--version']);
    expect(result).toMatchObject({ status: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });
});

describe('the budget the cache directory remembers', () => {
  // Before: nothing recorded it, so `imgcache --dir <this dir> prune` enforced the CLI's 10 GiB.
  it('is the running server budget, written at every start', async () => {
    const first = await startHarness({ maxSize: 12_345 });
    try {
      expect(await readRememberedBudget(first.dir)).toMatchObject({
        maxSize: 12_345,
        writtenBy: expect.stringMatching(/^imgcache-server \d/),
      });
      await first.server.close(1000);
      const second = await startHarness({ dir: first.dir, maxSize: 6789 });
      expect((await readRememberedBudget(first.dir))?.maxSize).toBe(6789);
      await second.stop();
    } finally {
      await first.stop();
    }
  });
});
