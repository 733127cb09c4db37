import { isIP } from 'node:net';
import { CHECKSUM_ALGORITHMS, parseChoice, type ChecksumAlgorithm, type SettingSource } from '@imgcache/core';
import { ConfigError } from './errors.js';

/** Pino's levels, quietest last; the accepted values of `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The accepted values of `--range-miss`. */
export const RANGE_MISS_POLICIES = ['fill', 'pass'] as const;
export type RangeMiss = (typeof RANGE_MISS_POLICIES)[number];

/** A free-disk floor: an absolute byte count or a share of the filesystem. */
export type MinFree = { bytes: number } | { percent: number };

/** Everything the server needs, already parsed and checked. */
export interface ServerConfig {
  /** Glance API base URL, or a data URL template containing `{id}`. */
  origin: string;
  host: string;
  port: number;
  dir: string;
  driver: string;
  maxSize: number;
  minFree: MinFree;
  /** Seconds after which an unfinished write counts as stalled. */
  stallTime: number;
  checksumAlgorithm: ChecksumAlgorithm;
  /** Token that opens the management API; unset disables it. */
  adminToken?: string | undefined;
  /** Token the prefetcher and readiness probe send to the origin (X-Auth-Token). */
  originToken?: string | undefined;
  /** Serve hits without asking the origin whether the client may read the image. */
  public: boolean;
  /** Seconds an origin authorisation decision is remembered. */
  authTtl: number;
  prefetchConcurrency: number;
  /** Seconds between maintenance runs (prune, clean, prefetch); 0 disables the timer. */
  maintenanceInterval: number;
  logLevel: LogLevel;
  /** A Range request for an uncached image: `fill` starts the fill and answers from it, `pass` proxies it uncached. */
  rangeMiss: RangeMiss;
  /** Where each setting came from, when the configuration was read from flags and the environment. */
  sources?: Readonly<Partial<Record<SettingName, SettingSource>>> | undefined;
  /** Seconds to open a connection to the origin (0: no limit). Default {@link DEFAULTS}.originConnectTimeout. */
  originConnectTimeout?: number | undefined;
  /** Seconds to wait for the origin's response headers (0: no limit). Default {@link DEFAULTS}.originHeaderTimeout. */
  originHeaderTimeout?: number | undefined;
  /** Seconds the origin may leave between two parts of a body (0: no limit). Default {@link DEFAULTS}.originIdleTimeout. */
  originIdleTimeout?: number | undefined;
  /** PostgreSQL URL of the cluster this node joins (see docs/cluster.md); unset: a single node, as before. */
  cluster?: string | undefined;
  /** The URL peers reach this node at; required with `cluster`. */
  advertiseUrl?: string | undefined;
  /** The shared secret that authenticates requests between nodes; required with `cluster`. */
  clusterSecret?: string | undefined;
  /** The file `clusterSecret` was read from, when it was. */
  clusterSecretFile?: string | undefined;
  /** This node's relative capacity in the cluster. Default 1. */
  clusterWeight?: number | undefined;
  /** Whether a non-owner keeps a copy of what it fetched from the owner. Default `hot`. */
  clusterCopy?: 'always' | 'never' | 'hot' | undefined;
  /** Requests for an image on a non-owner, within its memory, after which `hot` keeps a copy. Default 3. */
  clusterHotHits?: number | undefined;
  /** Seconds between heartbeats. Default 5. */
  clusterHeartbeat?: number | undefined;
  /** Seconds of silence after which a node is dead. Default 60. */
  clusterDeadAfter?: number | undefined;
}

/** The name of every setting of {@link ServerConfig}. */
export type SettingName = Exclude<keyof ServerConfig, 'sources'>;

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 9393,
  driver: 'sqlite',
  maxSize: '10GiB',
  minFree: '5%',
  stallTime: 86_400,
  checksumAlgorithm: 'sha256',
  authTtl: 60,
  prefetchConcurrency: 2,
  maintenanceInterval: 60,
  logLevel: 'info',
  rangeMiss: 'fill',
  originConnectTimeout: 10,
  originHeaderTimeout: 30,
  originIdleTimeout: 30,
} as const;

/**
 * The origin limits of a configuration in milliseconds (0: none), defaults filled in.
 */
export function originTimeouts(config: ServerConfig): { connect: number; headers: number; idle: number } {
  const ms = (seconds: number | undefined, fallback: number) => (seconds ?? fallback) * 1000;
  return {
    connect: ms(config.originConnectTimeout, DEFAULTS.originConnectTimeout),
    headers: ms(config.originHeaderTimeout, DEFAULTS.originHeaderTimeout),
    idle: ms(config.originIdleTimeout, DEFAULTS.originIdleTimeout),
  };
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses a byte count: `1048576`, `512M`, `10GiB`, `1.5 G` (binary units), `500MB` (decimal).
 * @throws {ConfigError} for anything else.
 */
export function parseSize(name: string, value: string | number): number {
  if (typeof value === 'number') return checkBytes(name, value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(value);
  if (!match) throw new ConfigError(name, `${JSON.stringify(value)} is not a size; use bytes or a number with K, M, G or T`);
  const unit = match[2]!.toLowerCase();
  // As in the CLI: K/M/G/T and KiB/MiB/GiB/TiB are binary, KB/MB/GB/TB decimal.
  const decimal = unit !== '' && match[3]?.toLowerCase() === 'b';
  const multiplier = decimal ? 1000 ** (' kmgt'.indexOf(unit)) : UNITS[unit]!;
  return checkBytes(name, Math.floor(Number(match[1]) * multiplier));
}

/**
 * Parses the free-disk floor: a size, or a percentage of the filesystem such as `5%`.
 * @throws {ConfigError} for anything else.
 */
export function parseMinFree(value: string | number): MinFree {
  if (typeof value === 'string' && value.trim().endsWith('%')) {
    const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
    const percent = match ? Number(match[1]) : Number.NaN;
    if (!(percent <= 100)) throw new ConfigError('min-free', `${JSON.stringify(value)} is not a percentage from 0% to 100%`);
    return { percent };
  }
  return { bytes: parseSize('min-free', value) };
}

/**
 * Parses a whole number within bounds.
 * @throws {ConfigError} when it is not one.
 */
export function parseInteger(name: string, value: string | number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  // Digits only: Number() would also take '', ' ', '0x10' and '1e3'.
  const number = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new ConfigError(name, `${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
  }
  return number;
}

/**
 * Checks the origin: an http(s) URL; a `{id}` in it makes it a data URL template.
 * @throws {ConfigError} for a missing or malformed URL.
 */
export function parseOrigin(value: string | undefined): string {
  if (!value) throw new ConfigError('origin', 'an origin URL is required (--origin or IMGCACHE_ORIGIN)');
  let url: URL;
  try {
    url = new URL(value.replace('{id}', 'x'));
  } catch {
    throw new ConfigError('origin', `${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('origin', 'the origin must be an http or https URL');
  return value;
}

/**
 * Checks the Range-miss policy, in any letter case.
 * @throws {InvalidSettingError} for anything but `fill` or `pass`.
 */
export function parseRangeMiss(value: string): RangeMiss {
  return parseChoice(value, RANGE_MISS_POLICIES, '--range-miss');
}

/**
 * Checks the cache directory path: not empty, no NUL byte (no path can hold one).
 * @throws {ConfigError} for anything else.
 */
export function parseDirectory(value: string): string {
  if (value.length === 0 || value.includes('\0')) throw new ConfigError('dir', `${JSON.stringify(value)} is not a directory path`);
  return value;
}

/**
 * Checks the checksum algorithm name, in any letter case.
 * @throws {InvalidSettingError} for an unknown one.
 */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm {
  return parseChoice(value, CHECKSUM_ALGORITHMS, '--checksum-algorithm');
}

/**
 * Checks the log level: one of {@link LOG_LEVELS}, in any letter case.
 * @throws {InvalidSettingError} for anything else.
 */
export function parseLogLevel(value: string): LogLevel {
  return parseChoice(value, LOG_LEVELS, '--log-level');
}

/**
 * Checks the listen address: an IPv4 or IPv6 address (without brackets) or a host name.
 * @throws {ConfigError} for anything else.
 */
export function parseHost(value: string): string {
  // RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
  const hostname = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
  if (isIP(value) !== 0 || hostname.test(value)) return value;
  const hint = value.startsWith('[') ? '; write an IPv6 address without brackets, e.g. ::1' : '';
  throw new ConfigError('host', `${JSON.stringify(value)} is not an IP address or host name${hint}`);
}

/**
 * Checks a token that travels in an HTTP header: printable ASCII, no leading or trailing
 * space (HTTP strips those, so such a token could never match).
 * @throws {ConfigError} for anything else.
 */
export function parseToken(name: string, value: string): string {
  if (/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) return value;
  throw new ConfigError(name, 'must be printable ASCII without leading or trailing spaces, as it is sent in an HTTP header');
}

function checkBytes(name: string, bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ConfigError(name, `${bytes} is not a whole number of bytes, 0 or more`);
  return bytes;
}
