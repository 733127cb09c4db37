import { dirname, resolve } from 'node:path';
import {
  CACHE_SETTINGS,
  CHECKSUM_ALGORITHMS,
  describeSettingOrigin,
  ImgcacheError,
  parseChoice,
  parseDriverName,
  parseDuration,
  parseSize,
  readConfigFile,
  readEnvSetting,
  readRememberedBudget,
  SERVER_ONLY_SETTINGS,
  type ChecksumAlgorithm,
  type SettingOrigin,
} from '@imgcache/core';
import { InvalidArgumentError } from 'commander';
import { defaultCacheDir } from './default-dir.js';
import { UsageError } from './errors.js';

/** The settings a cache is opened with, after every source has been applied. */
export interface CacheConfig {
  dir: string;
  driver: string;
  maxSize: number;
  stallTime: number;
  checksumAlgorithm: ChecksumAlgorithm;
}

/** The server a command manages instead of a local directory (`--url`, `--token`, `--timeout`). */
export interface RemoteConfig {
  /** Base URL of the server, always ending in `/` so route paths resolve below it. */
  url: URL;
  token: string | undefined;
  /** Seconds a request may take before it is abandoned. */
  timeout: number;
}

/** Every setting that a flag, the environment or the config file can give. */
export interface Settings extends CacheConfig {
  url: string;
  token: string;
}

/** Values given as command-line flags (already parsed by their option parsers). */
export type ConfigFlags = Partial<Settings> & { config?: string; timeout?: number };

/** Where the budget came from: a flag, the environment, the config file, the directory's remembered budget, or the default. */
export type BudgetSource = 'flag' | 'env' | 'file' | 'remembered' | 'default';

/** The resolved settings: the local cache's, and the server's when one is to be managed. */
export interface ResolvedSettings {
  cache: CacheConfig;
  /** Where `cache.maxSize` came from. */
  budgetSource: BudgetSource;
  remote: RemoteConfig | undefined;
}

export const DEFAULT_CONFIG: Omit<CacheConfig, 'dir'> = {
  driver: 'sqlite',
  maxSize: 10 * 1024 ** 3,
  stallTime: 86_400,
  checksumAlgorithm: 'sha256',
};

/** Seconds a request to a managed server may take unless `--timeout` says otherwise. */
export const DEFAULT_TIMEOUT = 30;

/** Flag and environment variable of each value; the cache's are the server's too (core's table). */
const SETTINGS: Readonly<Record<keyof Settings, { flag: string; env: string }>> = {
  ...CACHE_SETTINGS,
  url: { flag: '--url', env: 'IMGCACHE_URL' },
  token: { flag: '--token', env: 'IMGCACHE_TOKEN' },
};

/** Environment variables that set each value. */
export const CONFIG_ENV: Readonly<Record<keyof Settings, string>> = Object.fromEntries(
  Object.entries(SETTINGS).map(([key, { env }]) => [key, env]),
) as Record<keyof Settings, string>;

const KEYS = Object.keys(CONFIG_ENV) as (keyof Settings)[];

/**
 * Resolves the cache settings: flags win over the environment, which wins over the
 * `--config` file, which wins over the budget the directory remembers (for `maxSize`),
 * which wins over the defaults.
 * @throws {UsageError} for an unreadable config file or a bad value in any source.
 */
export async function resolveConfig(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<CacheConfig> {
  return (await resolveSettings(flags, env, cwd)).cache;
}

/**
 * Resolves the cache settings and, when a server URL is set, the server to manage. Each
 * value is taken on its own from the flags, else the environment, else the config file.
 * A `--dir` flag selects the local directory even when the environment or the config file
 * names a server; `--dir` and `--url` flags together are a usage error. Relative paths
 * (`dir`, `--config`) are resolved against `cwd`.
 * @throws {UsageError} for an unreadable config file, a bad value in any source, or both `--dir` and `--url`.
 */
export async function resolveSettings(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Promise<ResolvedSettings> {
  if (flags.dir !== undefined && flags.url !== undefined) {
    throw new UsageError('Use either --dir (a local cache directory) or --url (a running server), not both.');
  }
  const file = flags.config ? readSettingsFile(resolve(cwd, flags.config)) : {};
  const fromEnv = readEnv(env);
  const pick = <K extends keyof Settings>(key: K): Settings[K] | undefined => flags[key] ?? fromEnv[key] ?? file[key];
  const cache: CacheConfig = {
    dir: resolve(cwd, pick('dir') ?? defaultCacheDir(env)),
    driver: pick('driver') ?? DEFAULT_CONFIG.driver,
    maxSize: pick('maxSize') ?? DEFAULT_CONFIG.maxSize,
    stallTime: pick('stallTime') ?? DEFAULT_CONFIG.stallTime,
    checksumAlgorithm: pick('checksumAlgorithm') ?? DEFAULT_CONFIG.checksumAlgorithm,
  };
  const given: BudgetSource | undefined =
    flags.maxSize !== undefined
      ? 'flag'
      : fromEnv.maxSize !== undefined
        ? 'env'
        : file.maxSize !== undefined
          ? 'file'
          : undefined;
  const url = flags.dir === undefined ? pick('url') : undefined;
  if (url === undefined) {
    if (given !== undefined) return { cache, budgetSource: given, remote: undefined };
    // No budget was asked for: use the one the directory remembers (a server's), if any.
    const remembered = await readRememberedBudget(cache.dir).catch((error: unknown) => {
      throw new UsageError((error as Error).message, { cause: error });
    });
    if (remembered === null) return { cache, budgetSource: 'default', remote: undefined };
    return { cache: { ...cache, maxSize: remembered.maxSize }, budgetSource: 'remembered', remote: undefined };
  }
  const token = pick('token');
  // A header cannot carry control characters; say so here rather than as a failed request.
  if (token !== undefined && !/^[\x20-\x7e]+$/.test(token)) {
    throw new UsageError('The server token must be non-empty printable ASCII (no line breaks or control characters).');
  }
  return {
    cache,
    budgetSource: given ?? 'default',
    remote: { url: new URL(url), token, timeout: flags.timeout ?? DEFAULT_TIMEOUT },
  };
}

/**
 * Parses a server URL for `--url`: http or https, query and fragment dropped, and a
 * trailing `/` added so that route paths resolve below any path prefix.
 * @throws {InvalidArgumentError} for anything else.
 */
export function parseServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`${JSON.stringify(raw)} is not a URL; expected e.g. http://cache.internal:9393`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`${JSON.stringify(raw)} is not an http:// or https:// URL.`);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

function readEnv(env: NodeJS.ProcessEnv): Partial<Settings> {
  const values: Partial<Settings> = {};
  for (const key of KEYS) {
    // An empty variable counts as unset, as in the server.
    const raw = readEnvSetting(env, CONFIG_ENV[key]);
    if (raw === undefined) continue;
    Object.assign(values, {
      [key]: convert(key, raw, { source: 'env', env: SETTINGS[key].env, flag: SETTINGS[key].flag }),
    });
  }
  return values;
}

/**
 * Reads a config file, JSON or (named `*.toml`) TOML, such as
 * `{"dir": "/var/cache/imgcache", "maxSize": "20GiB"}`; an imgcache-server config file
 * too, whose cache keys apply and whose server-only keys (core's SERVER_ONLY_SETTINGS) are skipped. `path` is already resolved against
 * the run's working directory; a relative `dir` is taken relative to the file's own directory.
 * @throws {UsageError} for an unreadable file, an unknown key or a bad value.
 */
function readSettingsFile(path: string): Partial<Settings> {
  let parsed: Record<string, unknown>;
  try {
    parsed = readConfigFile(path);
  } catch (error) {
    if (ImgcacheError.is(error, 'ERR_IMGCACHE_CONFIG_FILE')) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  const values: Partial<Settings> = {};
  for (const [key, raw] of Object.entries(parsed)) {
    // One file for both apps: the server's own keys (origin, port…) mean nothing here.
    if ((SERVER_ONLY_SETTINGS as readonly string[]).includes(key)) continue;
    if (!KEYS.includes(key as keyof Settings)) {
      throw new UsageError(
        `Config file ${path} has an unknown key "${key}"; known keys: ${KEYS.join(', ')} (and imgcache-server's own keys, which are skipped).`,
      );
    }
    const value = convert(key as keyof Settings, raw, { source: 'file', key, file: path });
    Object.assign(values, { [key]: key === 'dir' ? resolve(dirname(path), value as string) : value });
  }
  return values;
}

function convert(key: keyof Settings, raw: unknown, origin: SettingOrigin): Settings[keyof Settings] {
  const where = describeSettingOrigin(origin);
  try {
    switch (key) {
      // Core's parsers: the server reads sizes and durations by the same rules.
      case 'maxSize':
        if (typeof raw === 'number' || typeof raw === 'string') return parseSize(raw, where);
        break;
      case 'stallTime':
        if (typeof raw === 'number' || typeof raw === 'string') return parseDuration(raw, where);
        break;
      // Enumerations take any letter case, as on the command line (core's strict parsers).
      case 'checksumAlgorithm':
        if (typeof raw === 'string') return parseChoice(raw, CHECKSUM_ALGORITHMS, where);
        throw new InvalidArgumentError(`must be one of ${CHECKSUM_ALGORITHMS.join(', ')}.`);
      case 'driver':
        if (typeof raw === 'string') return parseDriverName(raw, where);
        break;
      case 'url':
        if (typeof raw === 'string') return parseServerUrl(raw);
        break;
      default:
        if (typeof raw === 'string' && raw.length > 0) return raw;
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw new UsageError(`Invalid ${where}: ${error.message}`, { cause: error });
    if (ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING')) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  throw new UsageError(`Invalid ${where}: ${JSON.stringify(raw)} is not a usable ${key}.`);
}
