import { ImgcacheError, parseBoolean, parseDriverName, readEnvSetting, type SettingSource } from '@imgcache/core';
import { Command, Option } from 'commander';
import {
  DEFAULTS,
  parseChecksumAlgorithm,
  parseDirectory,
  parseHost,
  parseInteger,
  parseLogLevel,
  parseMinFree,
  parseOrigin,
  parseRangeMiss,
  parseSize,
  parseToken,
  type ServerConfig,
  type SettingName,
} from './config.js';
import { ConfigError } from './errors.js';
import { CLUSTER_DEFAULTS, checkClusterConfig, parseAdvertiseUrl, parseClusterCopy, parseClusterSecret, parseClusterUrl, parseSeconds, parseWeight, readClusterSecretFile } from './cluster/cluster-config.js';

interface Flag {
  /** Commander's flag syntax, e.g. `--origin <url>`. */
  flags: string;
  env: string;
  description: string;
  fallback?: string | number | boolean;
}

/** Flag, env var, description and default of every setting (also the README's table). */
const FLAGS: Readonly<Record<SettingName, Flag>> = {
  origin: { flags: '--origin <url>', env: 'IMGCACHE_ORIGIN', description: 'Glance API base URL, or an image data URL template containing {id}' },
  host: { flags: '--host <host>', env: 'IMGCACHE_HOST', description: 'address to listen on', fallback: DEFAULTS.host },
  port: { flags: '--port <port>', env: 'IMGCACHE_PORT', description: 'port to listen on (0 picks a free one)', fallback: DEFAULTS.port },
  dir: { flags: '--dir <path>', env: 'IMGCACHE_DIR', description: 'cache directory' },
  driver: { flags: '--driver <name>', env: 'IMGCACHE_DRIVER', description: 'metadata driver: sqlite, xattr or a package name', fallback: DEFAULTS.driver },
  maxSize: { flags: '--max-size <size>', env: 'IMGCACHE_MAX_SIZE', description: 'cache budget (bytes, or K/M/G/T)', fallback: DEFAULTS.maxSize },
  minFree: { flags: '--min-free <size|%>', env: 'IMGCACHE_MIN_FREE', description: 'free disk space to keep: bytes or a percentage of the filesystem', fallback: DEFAULTS.minFree },
  stallTime: { flags: '--stall-time <seconds>', env: 'IMGCACHE_STALL_TIME', description: 'age after which an unfinished write is cleaned', fallback: DEFAULTS.stallTime },
  checksumAlgorithm: {
    flags: '--checksum-algorithm <name>',
    env: 'IMGCACHE_CHECKSUM_ALGORITHM',
    description: 'digest recorded for cached images: md5, sha256, sha512',
    fallback: DEFAULTS.checksumAlgorithm,
  },
  adminToken: { flags: '--admin-token <token>', env: 'IMGCACHE_ADMIN_TOKEN', description: 'token for the management API (disabled when unset)' },
  originToken: { flags: '--origin-token <token>', env: 'IMGCACHE_ORIGIN_TOKEN', description: 'X-Auth-Token the prefetcher and readiness probe send to the origin' },
  public: {
    flags: '--public [bool]',
    env: 'IMGCACHE_PUBLIC',
    description: 'serve cached images without asking the origin to authorise each client (true|1|yes|on, false|0|no|off)',
    fallback: false,
  },
  authTtl: { flags: '--auth-ttl <seconds>', env: 'IMGCACHE_AUTH_TTL', description: 'how long an origin authorisation of a client is remembered', fallback: DEFAULTS.authTtl },
  prefetchConcurrency: { flags: '--prefetch-concurrency <n>', env: 'IMGCACHE_PREFETCH_CONCURRENCY', description: 'queued images fetched at once', fallback: DEFAULTS.prefetchConcurrency },
  maintenanceInterval: {
    flags: '--maintenance-interval <seconds>',
    env: 'IMGCACHE_MAINTENANCE_INTERVAL',
    description: 'seconds between prune/clean/prefetch runs (0: off)',
    fallback: DEFAULTS.maintenanceInterval,
  },
  rangeMiss: {
    flags: '--range-miss <policy>',
    env: 'IMGCACHE_RANGE_MISS',
    description: 'a Range request for an uncached image: fill (start the fill, answer from it) or pass (proxy it uncached)',
    fallback: DEFAULTS.rangeMiss,
  },
  logLevel: { flags: '--log-level <level>', env: 'IMGCACHE_LOG_LEVEL', description: 'fatal, error, warn, info, debug, trace or silent', fallback: DEFAULTS.logLevel },
  originConnectTimeout: {
    flags: '--origin-connect-timeout <seconds>',
    env: 'IMGCACHE_ORIGIN_CONNECT_TIMEOUT',
    description: 'seconds to connect to the origin (0: no limit)',
    fallback: DEFAULTS.originConnectTimeout,
  },
  originHeaderTimeout: {
    flags: '--origin-header-timeout <seconds>',
    env: 'IMGCACHE_ORIGIN_HEADER_TIMEOUT',
    description: "seconds to wait for the origin's response headers (0: no limit)",
    fallback: DEFAULTS.originHeaderTimeout,
  },
  originIdleTimeout: {
    flags: '--origin-idle-timeout <seconds>',
    env: 'IMGCACHE_ORIGIN_IDLE_TIMEOUT',
    description: 'seconds the origin may pause inside a body (0: no limit)',
    fallback: DEFAULTS.originIdleTimeout,
  },
  cluster: { flags: '--cluster <url>', env: 'IMGCACHE_CLUSTER_URL', description: 'PostgreSQL URL of the cluster to join (unset: a single node)' },
  advertiseUrl: { flags: '--advertise-url <url>', env: 'IMGCACHE_ADVERTISE_URL', description: 'URL peers reach this node at, e.g. http://10.0.0.5:9393 (required with --cluster)' },
  clusterSecret: { flags: '--cluster-secret <secret>', env: 'IMGCACHE_CLUSTER_SECRET', description: 'shared secret that authenticates requests between nodes (32+ characters)' },
  clusterSecretFile: { flags: '--cluster-secret-file <path>', env: 'IMGCACHE_CLUSTER_SECRET_FILE', description: 'file holding the shared cluster secret (its first line)' },
  clusterWeight: { flags: '--cluster-weight <n>', env: 'IMGCACHE_CLUSTER_WEIGHT', description: "this node's relative capacity", fallback: CLUSTER_DEFAULTS.clusterWeight },
  clusterCopy: {
    flags: '--cluster-copy <policy>',
    env: 'IMGCACHE_CLUSTER_COPY',
    description: 'a non-owner keeps a copy of what it fetched from the owner: always, never, or hot (after --cluster-hot-hits requests)',
    fallback: CLUSTER_DEFAULTS.clusterCopy,
  },
  clusterHotHits: { flags: '--cluster-hot-hits <n>', env: 'IMGCACHE_CLUSTER_HOT_HITS', description: 'requests on a non-owner that make an image hot', fallback: CLUSTER_DEFAULTS.clusterHotHits },
  clusterHeartbeat: { flags: '--cluster-heartbeat <seconds>', env: 'IMGCACHE_CLUSTER_HEARTBEAT', description: 'seconds between heartbeats', fallback: CLUSTER_DEFAULTS.clusterHeartbeat },
  clusterDeadAfter: { flags: '--cluster-dead-after <seconds>', env: 'IMGCACHE_CLUSTER_DEAD_AFTER', description: 'seconds of silence after which a node is dead', fallback: CLUSTER_DEFAULTS.clusterDeadAfter },
};

/** The command line definition of `imgcache-server`. Usage errors are thrown, never printed or exited on here. */
export function createCommand(): Command {
  const command = new Command('imgcache-server')
    .description('Caching image proxy in front of a Glance API or any HTTP image origin.')
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  for (const { flags, env, description, fallback } of Object.values(FLAGS)) {
    const shownDefault = fallback === undefined ? '' : `, default: ${String(fallback)}`;
    const option = new Option(flags, `${description} (env: ${env}${shownDefault})`);
    // A bare `--public` means on; `--public=false` and `--public off` are read strictly.
    if (flags.endsWith('[bool]')) option.preset('true');
    command.addOption(option);
  }
  return command;
}

/**
 * Parses argv and the IMGCACHE_* variables into a checked configuration. A flag wins over
 * its variable, an empty variable counts as unset, and every value is checked before
 * anything starts.
 * @throws {ConfigError} naming the first unusable setting (the flag, or the variable it came from).
 * @throws {CommanderError} for an unknown flag, a flag without its value, or `--help`.
 */
export function parseArguments(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const command = createCommand();
  command.parse(argv as string[], { from: 'user' });
  const read = new SettingReader(command, env);
  const config: ServerConfig = {
    origin: read.required('origin', parseOrigin, 'an origin URL'),
    host: read.withDefault('host', parseHost),
    port: read.withDefault('port', (value) => parseInteger('port', value, 0, 65_535)),
    dir: read.required('dir', parseDirectory, 'a cache directory'),
    driver: read.withDefault('driver', (value) => parseDriverName(value, '--driver')),
    maxSize: read.withDefault('maxSize', (value) => parseSize('max-size', value)),
    minFree: read.withDefault('minFree', parseMinFree),
    stallTime: read.withDefault('stallTime', (value) => parseInteger('stall-time', value, 0)),
    checksumAlgorithm: read.withDefault('checksumAlgorithm', parseChecksumAlgorithm),
    adminToken: read.optional('adminToken', (value) => parseToken('admin-token', value)),
    originToken: read.optional('originToken', (value) => parseToken('origin-token', value)),
    public: read.withDefault('public', (value) => parseBoolean(value, '--public')),
    authTtl: read.withDefault('authTtl', (value) => parseInteger('auth-ttl', value, 0)),
    prefetchConcurrency: read.withDefault('prefetchConcurrency', (value) => parseInteger('prefetch-concurrency', value, 1, 64)),
    maintenanceInterval: read.withDefault('maintenanceInterval', (value) => parseInteger('maintenance-interval', value, 0)),
    logLevel: read.withDefault('logLevel', parseLogLevel),
    rangeMiss: read.withDefault('rangeMiss', parseRangeMiss),
    originConnectTimeout: read.withDefault('originConnectTimeout', (value) => parseInteger('origin-connect-timeout', value, 0)),
    originHeaderTimeout: read.withDefault('originHeaderTimeout', (value) => parseInteger('origin-header-timeout', value, 0)),
    originIdleTimeout: read.withDefault('originIdleTimeout', (value) => parseInteger('origin-idle-timeout', value, 0)),
    cluster: read.optional('cluster', parseClusterUrl),
    advertiseUrl: read.optional('advertiseUrl', parseAdvertiseUrl),
    clusterSecret: read.optional('clusterSecret', (value) => parseClusterSecret(value)),
    clusterSecretFile: read.optional('clusterSecretFile', parseDirectory),
    clusterWeight: read.withDefault('clusterWeight', parseWeight),
    clusterCopy: read.withDefault('clusterCopy', parseClusterCopy),
    clusterHotHits: read.withDefault('clusterHotHits', (value) => parseInteger('cluster-hot-hits', value, 1)),
    clusterHeartbeat: read.withDefault('clusterHeartbeat', (value) => parseSeconds('cluster-heartbeat', value)),
    clusterDeadAfter: read.withDefault('clusterDeadAfter', (value) => parseSeconds('cluster-dead-after', value)),
    sources: read.sources,
  };
  if (config.clusterSecretFile !== undefined) {
    if (config.clusterSecret !== undefined) throw new ConfigError('cluster-secret-file', 'give the cluster secret once: --cluster-secret (or its variable) or --cluster-secret-file');
    config.clusterSecret = readClusterSecretFile(config.clusterSecretFile);
  }
  checkClusterConfig(config);
  return config;
}

/** Finds each setting's value (flag, else variable, else default), parses it and remembers where it came from. */
class SettingReader {
  readonly sources: Partial<Record<SettingName, SettingSource>> = {};
  private readonly given: Record<string, unknown>;

  constructor(
    command: Command,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.given = command.opts();
  }

  /** A setting without a default: undefined while neither the flag nor the variable is set. */
  optional<T>(key: SettingName, parse: (value: string) => T): T | undefined {
    const { env, fallback } = FLAGS[key];
    const flag = this.given[key];
    if (typeof flag === 'string') return this.parse(key, 'flag', flag, parse);
    const fromEnv = readEnvSetting(this.env, env);
    if (fromEnv !== undefined) return this.parse(key, 'env', fromEnv, parse);
    return fallback === undefined ? undefined : this.parse(key, 'default', String(fallback), parse);
  }

  withDefault<T>(key: SettingName, parse: (value: string) => T): T {
    return this.optional(key, parse)!;
  }

  required<T>(key: SettingName, parse: (value: string) => T, what: string): T {
    const value = this.optional(key, parse);
    if (value !== undefined) return value;
    const option = optionName(key);
    throw new ConfigError(option, `${what} is required (--${option} or ${FLAGS[key].env})`);
  }

  private parse<T>(key: SettingName, source: SettingSource, value: string, parse: (value: string) => T): T {
    this.sources[key] = source;
    try {
      return parse(value);
    } catch (error) {
      // Re-raised under the name the value was given by: the flag, or the variable.
      const reason = error instanceof ConfigError || ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING') ? (error as { reason: string }).reason : undefined;
      if (reason === undefined) throw error;
      throw new ConfigError(optionName(key), reason, source === 'env' ? FLAGS[key].env : undefined);
    }
  }
}

/** The flag of a setting without its dashes: `logLevel` gives `log-level`. */
function optionName(key: SettingName): string {
  return FLAGS[key].flags.split(' ')[0]!.slice(2);
}
