import { readFileSync } from 'node:fs';
import { parseChoice } from '@imgcache/core';
import type { ServerConfig } from '../config.js';
import { ConfigError } from '../errors.js';

/** What a non-owner does with an image it fetched from the owner: keep a copy always, never, or once it is hot. */
export const CLUSTER_COPY_POLICIES = ['always', 'never', 'hot'] as const;
export type ClusterCopy = (typeof CLUSTER_COPY_POLICIES)[number];

/** Defaults of the cluster settings (seconds, counts). */
export const CLUSTER_DEFAULTS = {
  clusterWeight: 1,
  clusterCopy: 'hot',
  clusterHotHits: 3,
  clusterHeartbeat: 5,
  clusterDeadAfter: 60,
} as const;

/** Shortest shared secret accepted: 128 bits of hex, or as many characters of a passphrase. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Checks the cluster database URL: a `postgres://` or `postgresql://` URL.
 * @throws {ConfigError} for anything else.
 */
export function parseClusterUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('cluster', 'is not a URL; use postgres://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ConfigError('cluster', 'must be a postgres:// or postgresql:// URL');
  return value;
}

/**
 * Checks the URL peers reach this node at: http(s), no path, query or credentials.
 * @throws {ConfigError} for anything else.
 */
export function parseAdvertiseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('advertise-url', `${JSON.stringify(value)} is not a URL; use http://this-node:9393`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError('advertise-url', 'must be an http or https URL');
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ConfigError('advertise-url', 'must be a scheme, host and port only, e.g. http://10.0.0.5:9393');
  }
  return url.origin;
}

/**
 * Checks the shared cluster secret: printable ASCII of at least {@link MIN_SECRET_LENGTH}
 * characters (it keys the HMAC that authenticates peer requests).
 * @throws {ConfigError} for anything else.
 */
export function parseClusterSecret(value: string, option = 'cluster-secret'): string {
  if (!/^[\x21-\x7e]+$/.test(value)) throw new ConfigError(option, 'must be printable ASCII without spaces');
  if (value.length < MIN_SECRET_LENGTH)
    throw new ConfigError(option, `must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`);
  return value;
}

/**
 * Reads the shared secret from a file (its first line; a trailing newline is ignored).
 * Read once at startup, before anything listens.
 * @throws {ConfigError} when the file cannot be read or holds no usable secret.
 */
export function readClusterSecretFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'cluster-secret-file',
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return parseClusterSecret(text.split(/\r?\n/)[0] ?? '', 'cluster-secret-file');
}

/**
 * Checks the non-owner copy policy, in any letter case.
 * @throws {InvalidSettingError} for anything but `always`, `never`, `hot`.
 */
export function parseClusterCopy(value: string): ClusterCopy {
  return parseChoice(value, CLUSTER_COPY_POLICIES, '--cluster-copy');
}

/**
 * Parses a positive number of seconds, fractions allowed (`0.2`).
 * @throws {ConfigError} for anything else.
 */
export function parseSeconds(name: string, value: string | number): number {
  const number = typeof value === 'number' ? value : /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(number > 0) || !Number.isFinite(number))
    throw new ConfigError(name, `${JSON.stringify(value)} must be a number of seconds above 0`);
  return number;
}

/**
 * Parses a node weight: a number above 0 (fractions allowed).
 * @throws {ConfigError} for anything else.
 */
export function parseWeight(value: string | number): number {
  return parseSeconds('cluster-weight', value);
}

/**
 * Checks the cluster settings together: `--cluster` needs `--advertise-url` and a secret
 * (peer requests are refused without one), the secret comes from one place, and a node is
 * dead only after more than two heartbeats.
 * @throws {ConfigError} naming the missing or conflicting setting.
 */
export function checkClusterConfig(config: ServerConfig): void {
  if (!config.cluster) return;
  if (!config.advertiseUrl)
    throw new ConfigError(
      'advertise-url',
      'is required with --cluster: the URL peers reach this node at (or IMGCACHE_ADVERTISE_URL)',
    );
  if (!config.clusterSecret) {
    throw new ConfigError(
      'cluster-secret',
      'is required with --cluster (or IMGCACHE_CLUSTER_SECRET, or --cluster-secret-file): it authenticates requests between nodes',
    );
  }
  const heartbeat = config.clusterHeartbeat ?? CLUSTER_DEFAULTS.clusterHeartbeat;
  const deadAfter = config.clusterDeadAfter ?? CLUSTER_DEFAULTS.clusterDeadAfter;
  if (!(deadAfter > 2 * heartbeat))
    throw new ConfigError('cluster-dead-after', `must be more than two heartbeats (${2 * heartbeat} s)`);
}
