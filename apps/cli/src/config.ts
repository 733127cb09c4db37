import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CHECKSUM_ALGORITHMS, ImgcacheError, parseChoice, parseDriverName, readEnvSetting, type ChecksumAlgorithm } from '@imgcache/core';
import { InvalidArgumentError } from 'commander';
import { defaultCacheDir } from './default-dir.js';
import { UsageError } from './errors.js';
import { parseDuration } from './format/parse-duration.js';
import { parseSize } from './format/parse-size.js';

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

/** The resolved settings: the local cache's, and the server's when one is to be managed. */
export interface ResolvedSettings {
  cache: CacheConfig;
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

/** Environment variables that set each value. */
export const CONFIG_ENV: Readonly<Record<keyof Settings, string>> = {
  dir: 'IMGCACHE_DIR',
  driver: 'IMGCACHE_DRIVER',
  maxSize: 'IMGCACHE_MAX_SIZE',
  stallTime: 'IMGCACHE_STALL_TIME',
  checksumAlgorithm: 'IMGCACHE_CHECKSUM_ALGORITHM',
  url: 'IMGCACHE_URL',
  token: 'IMGCACHE_TOKEN',
};

const KEYS = Object.keys(CONFIG_ENV) as (keyof Settings)[];

/**
 * Resolves the cache settings: flags win over the environment, which wins over the
 * `--config` JSON file, which wins over the defaults.
 * @throws {UsageError} for an unreadable config file or a bad value in any source.
 */
export async function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<CacheConfig> {
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
export async function resolveSettings(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<ResolvedSettings> {
  if (flags.dir !== undefined && flags.url !== undefined) {
    throw new UsageError('Use either --dir (a local cache directory) or --url (a running server), not both.');
  }
  const file = flags.config ? await readConfigFile(flags.config, cwd) : {};
  const fromEnv = readEnv(env);
  const pick = <K extends keyof Settings>(key: K): Settings[K] | undefined => flags[key] ?? fromEnv[key] ?? file[key];
  const cache: CacheConfig = {
    dir: resolve(cwd, pick('dir') ?? defaultCacheDir(env)),
    driver: pick('driver') ?? DEFAULT_CONFIG.driver,
    maxSize: pick('maxSize') ?? DEFAULT_CONFIG.maxSize,
    stallTime: pick('stallTime') ?? DEFAULT_CONFIG.stallTime,
    checksumAlgorithm: pick('checksumAlgorithm') ?? DEFAULT_CONFIG.checksumAlgorithm,
  };
  const url = flags.dir === undefined ? pick('url') : undefined;
  if (url === undefined) return { cache, remote: undefined };
  const token = pick('token');
  // A header cannot carry control characters; say so here rather than as a failed request.
  if (token !== undefined && !/^[\x20-\x7e]+$/.test(token)) {
    throw new UsageError('The server token must be non-empty printable ASCII (no line breaks or control characters).');
  }
  return { cache, remote: { url: new URL(url), token, timeout: flags.timeout ?? DEFAULT_TIMEOUT } };
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
    Object.assign(values, { [key]: convert(key, raw, `environment variable ${CONFIG_ENV[key]}`) });
  }
  return values;
}

/**
 * Reads a JSON config file such as `{"dir": "/var/cache/imgcache", "maxSize": "20GiB"}`.
 * A relative `dir` is taken relative to the file's own directory.
 */
async function readConfigFile(path: string, cwd: string): Promise<Partial<Settings>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(resolve(cwd, path), 'utf8'));
  } catch (error) {
    throw new UsageError(`Cannot read config file ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`Config file ${path} must hold a JSON object, e.g. {"dir": "/var/cache/imgcache", "maxSize": "10GiB"}.`);
  }
  const values: Partial<Settings> = {};
  for (const [key, raw] of Object.entries(parsed)) {
    if (!KEYS.includes(key as keyof Settings)) {
      throw new UsageError(`Config file ${path} has an unknown key "${key}"; known keys: ${KEYS.join(', ')}.`);
    }
    const value = convert(key as keyof Settings, raw, `"${key}" in config file ${path}`);
    Object.assign(values, { [key]: key === 'dir' ? resolve(cwd, dirname(path), value as string) : value });
  }
  return values;
}

function convert(key: keyof Settings, raw: unknown, where: string): Settings[keyof Settings] {
  try {
    switch (key) {
      case 'maxSize':
        if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
        if (typeof raw === 'string') return parseSize(raw);
        break;
      case 'stallTime':
        if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw;
        if (typeof raw === 'string') return parseDuration(raw);
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
    if (error instanceof InvalidArgumentError) throw new UsageError(`Invalid ${where}: ${error.message}`, { cause: error });
    if (ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING')) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  throw new UsageError(`Invalid ${where}: ${JSON.stringify(raw)} is not a usable ${key}.`);
}
