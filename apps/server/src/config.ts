import { readFileSync } from 'node:fs';
import type { ChecksumAlgorithm, SettingSource } from '@imgcache/core';

/** Pino's levels, quietest last; the accepted values of `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The accepted values of `--log-format`: one JSON object per line, or lines for people. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

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
  /** How log lines are written. Default {@link DEFAULTS}.logFormat. */
  logFormat?: LogFormat | undefined;
  /**
   * Seconds after the origin last authorised a client for an image that the cached copy is
   * still served to it while the origin cannot be asked (unreachable, timeout, 5xx);
   * 0 = never. Default {@link DEFAULTS}.authStale.
   */
  authStale?: number | undefined;
  /** A Range request for an uncached image: `fill` starts the fill and answers from it, `pass` proxies it uncached. */
  rangeMiss: RangeMiss;
  /**
   * URI prefix of the front nginx's internal location for cached files: hits are answered
   * with `X-Accel-Redirect: <prefix><image id>` and nginx sends the file (deploy/nginx/).
   */
  accelRedirect?: string | undefined;
  /**
   * Addresses or CIDR ranges of the reverse proxies in front (e.g. `127.0.0.1`): requests
   * from them are taken to come from the client their `X-Forwarded-For` names, so per-client
   * limits (wrong admin tokens) apply per real client. Unset: the connection's address.
   */
  trustProxy?: string[] | undefined;
  /** Where each setting came from, when the configuration was read from flags, the environment and a config file. */
  sources?: Readonly<Partial<Record<SettingName, SettingSource>>> | undefined;
  /** The files secrets were read from (`--admin-token-file`, `--origin-token-file`), by setting, when they were. */
  secretFiles?: Readonly<Partial<Record<SettingName, string>>> | undefined;
  /** PEM file of the certificate authorities that sign the origin's certificate (replaces Node's bundled ones). */
  originCaFile?: string | undefined;
  /** PEM file of the client certificate presented to the origin (with {@link originKeyFile}). */
  originCertFile?: string | undefined;
  /** PEM file of the client certificate's private key. */
  originKeyFile?: string | undefined;
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
export type SettingName = Exclude<keyof ServerConfig, 'sources' | 'secretFiles'>;

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
  logFormat: 'json',
  authStale: 0,
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

/** PEM contents for TLS connections to the origin (undici's `connect` options). */
export interface OriginTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * Reads the origin's CA bundle and client certificate and key named by a configuration.
 * @returns undefined when none is set (Node's bundled CAs, no client certificate).
 * @throws the filesystem's error when a file cannot be read (parseArguments checked them).
 */
export function loadOriginTls(
  config: Pick<ServerConfig, 'originCaFile' | 'originCertFile' | 'originKeyFile'>,
): OriginTls | undefined {
  const tls: OriginTls = {};
  if (config.originCaFile) tls.ca = readFileSync(config.originCaFile, 'utf8');
  if (config.originCertFile) tls.cert = readFileSync(config.originCertFile, 'utf8');
  if (config.originKeyFile) tls.key = readFileSync(config.originKeyFile, 'utf8');
  return Object.keys(tls).length > 0 ? tls : undefined;
}
