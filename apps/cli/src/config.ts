import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '@imgcache/core';
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

/** Values given as command-line flags (already parsed by their option parsers). */
export type ConfigFlags = Partial<CacheConfig> & { config?: string };

export const DEFAULT_CONFIG: Omit<CacheConfig, 'dir'> = {
  driver: 'sqlite',
  maxSize: 10 * 1024 ** 3,
  stallTime: 86_400,
  checksumAlgorithm: 'sha256',
};

/** Environment variables that set each value. */
export const CONFIG_ENV: Readonly<Record<keyof CacheConfig, string>> = {
  dir: 'IMGCACHE_DIR',
  driver: 'IMGCACHE_DRIVER',
  maxSize: 'IMGCACHE_MAX_SIZE',
  stallTime: 'IMGCACHE_STALL_TIME',
  checksumAlgorithm: 'IMGCACHE_CHECKSUM_ALGORITHM',
};

const KEYS = Object.keys(CONFIG_ENV) as (keyof CacheConfig)[];

/**
 * Resolves the cache settings: flags win over the environment, which wins over the
 * `--config` JSON file, which wins over the defaults.
 * @throws {UsageError} for an unreadable config file or a bad value in any source.
 */
export async function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): Promise<CacheConfig> {
  const file = flags.config ? await readConfigFile(flags.config) : {};
  const fromEnv = readEnv(env);
  const pick = <K extends keyof CacheConfig>(key: K): CacheConfig[K] | undefined => flags[key] ?? fromEnv[key] ?? file[key];
  return {
    dir: resolve(pick('dir') ?? defaultCacheDir(env)),
    driver: pick('driver') ?? DEFAULT_CONFIG.driver,
    maxSize: pick('maxSize') ?? DEFAULT_CONFIG.maxSize,
    stallTime: pick('stallTime') ?? DEFAULT_CONFIG.stallTime,
    checksumAlgorithm: pick('checksumAlgorithm') ?? DEFAULT_CONFIG.checksumAlgorithm,
  };
}

function readEnv(env: NodeJS.ProcessEnv): Partial<CacheConfig> {
  const values: Partial<CacheConfig> = {};
  for (const key of KEYS) {
    const raw = env[CONFIG_ENV[key]];
    if (raw === undefined || raw === '') continue;
    Object.assign(values, { [key]: convert(key, raw, `environment variable ${CONFIG_ENV[key]}`) });
  }
  return values;
}

/**
 * Reads a JSON config file such as `{"dir": "/var/cache/imgcache", "maxSize": "20GiB"}`.
 * A relative `dir` is taken relative to the file's own directory.
 */
async function readConfigFile(path: string): Promise<Partial<CacheConfig>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`Cannot read config file ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`Config file ${path} must hold a JSON object, e.g. {"dir": "/var/cache/imgcache", "maxSize": "10GiB"}.`);
  }
  const values: Partial<CacheConfig> = {};
  for (const [key, raw] of Object.entries(parsed)) {
    if (!KEYS.includes(key as keyof CacheConfig)) {
      throw new UsageError(`Config file ${path} has an unknown key "${key}"; known keys: ${KEYS.join(', ')}.`);
    }
    const value = convert(key as keyof CacheConfig, raw, `"${key}" in config file ${path}`);
    Object.assign(values, { [key]: key === 'dir' ? resolve(dirname(path), value as string) : value });
  }
  return values;
}

function convert(key: keyof CacheConfig, raw: unknown, where: string): CacheConfig[keyof CacheConfig] {
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
      case 'checksumAlgorithm':
        if (CHECKSUM_ALGORITHMS.includes(raw as ChecksumAlgorithm)) return raw as ChecksumAlgorithm;
        throw new InvalidArgumentError(`must be one of ${CHECKSUM_ALGORITHMS.join(', ')}.`);
      default:
        if (typeof raw === 'string' && raw.length > 0) return raw;
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new UsageError(`Invalid ${where}: ${error.message}`, { cause: error });
    throw error;
  }
  throw new UsageError(`Invalid ${where}: ${JSON.stringify(raw)} is not a usable ${key}.`);
}
