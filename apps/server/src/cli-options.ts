import { CACHE_SETTINGS, parseBoolean, parseDriverName } from '@imgcache/core';
import { Command, Option } from 'commander';
import { DEFAULTS, type ServerConfig, type SettingName } from './config.js';
import {
  parseAccelRedirect,
  parseChecksumAlgorithm,
  parseDirectory,
  parseDuration,
  parseHost,
  parseInteger,
  parseLogFormat,
  parseLogLevel,
  parseMinFree,
  parseOrigin,
  parsePemFile,
  parseRangeMiss,
  parseSize,
  parseToken,
  parseTrustProxy,
} from './flag-values.js';
import { ConfigError } from './errors.js';
import { SettingReader, type Flag, type FlagName } from './setting-reader.js';
import { VERSION } from './version.js';
import {
  CLUSTER_DEFAULTS,
  checkClusterConfig,
  parseAdvertiseUrl,
  parseClusterCopy,
  parseClusterSecret,
  parseClusterUrl,
  parseSeconds,
  parseWeight,
  readClusterSecretFile,
} from './cluster/cluster-config.js';

/**
 * Flag, env var, description and default of every setting (also the README's table). The
 * key is also the setting's key in a config file. Settings shared with the CLI take their
 * flag and variable from core's CACHE_SETTINGS. (One table on purpose, most of this file's
 * length: an operator's question "which flag does X" is answered by reading it top-down.)
 */
const FLAGS: Readonly<Record<FlagName, Flag>> = {
  origin: {
    flags: '--origin <url>',
    env: 'IMGCACHE_ORIGIN',
    description: 'Glance API base URL, or an image data URL template containing {id}',
  },
  host: { flags: '--host <host>', env: 'IMGCACHE_HOST', description: 'address to listen on', fallback: DEFAULTS.host },
  port: {
    flags: '--port <port>',
    env: 'IMGCACHE_PORT',
    description: 'port to listen on (0 picks a free one)',
    fallback: DEFAULTS.port,
  },
  dir: {
    flags: `${CACHE_SETTINGS.dir.flag} <path>`,
    env: CACHE_SETTINGS.dir.env,
    description: 'cache directory',
    path: true,
  },
  driver: {
    flags: `${CACHE_SETTINGS.driver.flag} <name>`,
    env: CACHE_SETTINGS.driver.env,
    description: 'metadata driver: sqlite, xattr or a package name',
    fallback: DEFAULTS.driver,
  },
  maxSize: {
    flags: `${CACHE_SETTINGS.maxSize.flag} <size>`,
    env: CACHE_SETTINGS.maxSize.env,
    description: 'cache budget, e.g. 10GiB, .5T, 500GB (also recorded in the directory for the imgcache CLI)',
    fallback: DEFAULTS.maxSize,
  },
  minFree: {
    flags: '--min-free <size|%>',
    env: 'IMGCACHE_MIN_FREE',
    description: 'free disk space to keep: bytes or a percentage of the filesystem',
    fallback: DEFAULTS.minFree,
  },
  stallTime: {
    flags: `${CACHE_SETTINGS.stallTime.flag} <duration>`,
    env: CACHE_SETTINGS.stallTime.env,
    description: 'age after which an unfinished write is cleaned, e.g. 86400, 24h',
    fallback: DEFAULTS.stallTime,
  },
  checksumAlgorithm: {
    flags: `${CACHE_SETTINGS.checksumAlgorithm.flag} <name>`,
    env: CACHE_SETTINGS.checksumAlgorithm.env,
    description: 'digest recorded for cached images: md5, sha256, sha512',
    fallback: DEFAULTS.checksumAlgorithm,
  },
  adminToken: {
    flags: '--admin-token <token>',
    env: 'IMGCACHE_ADMIN_TOKEN',
    description: 'token for the management API (disabled when unset); prefer --admin-token-file: argv shows in ps',
  },
  adminTokenFile: {
    flags: '--admin-token-file <path>',
    env: 'IMGCACHE_ADMIN_TOKEN_FILE',
    description: 'file holding the admin token (one trailing line break is dropped)',
    path: true,
  },
  originToken: {
    flags: '--origin-token <token>',
    env: 'IMGCACHE_ORIGIN_TOKEN',
    description: 'X-Auth-Token the prefetcher and readiness probe send to the origin',
  },
  originTokenFile: {
    flags: '--origin-token-file <path>',
    env: 'IMGCACHE_ORIGIN_TOKEN_FILE',
    description: 'file holding the origin token',
    path: true,
  },
  public: {
    flags: '--public [bool]',
    env: 'IMGCACHE_PUBLIC',
    description:
      'serve cached images without asking the origin to authorise each client (true|1|yes|on, false|0|no|off)',
    fallback: false,
  },
  authTtl: {
    flags: '--auth-ttl <duration>',
    env: 'IMGCACHE_AUTH_TTL',
    description: 'how long an origin authorisation of a client is remembered',
    fallback: DEFAULTS.authTtl,
  },
  authStale: {
    flags: '--auth-stale <duration>',
    env: 'IMGCACHE_AUTH_STALE',
    description:
      'serve a cached image to a client the origin authorised within this long while the origin is unreachable, times out or answers 5xx (0: never)',
    fallback: DEFAULTS.authStale,
  },
  prefetchConcurrency: {
    flags: '--prefetch-concurrency <n>',
    env: 'IMGCACHE_PREFETCH_CONCURRENCY',
    description: 'queued images fetched at once',
    fallback: DEFAULTS.prefetchConcurrency,
  },
  maintenanceInterval: {
    flags: '--maintenance-interval <duration>',
    env: 'IMGCACHE_MAINTENANCE_INTERVAL',
    description: 'time between prune/clean/prefetch runs, e.g. 60, 5m (0: off)',
    fallback: DEFAULTS.maintenanceInterval,
  },
  rangeMiss: {
    flags: '--range-miss <policy>',
    env: 'IMGCACHE_RANGE_MISS',
    description:
      'a Range request for an uncached image: fill (start the fill, answer from it) or pass (proxy it uncached)',
    fallback: DEFAULTS.rangeMiss,
  },
  accelRedirect: {
    flags: '--accel-redirect <prefix>',
    env: 'IMGCACHE_ACCEL_REDIRECT',
    description:
      'answer hits with X-Accel-Redirect: <prefix><image id>, for nginx to send the file from an internal location (see deploy/nginx/)',
  },
  trustProxy: {
    flags: '--trust-proxy <addresses>',
    env: 'IMGCACHE_TRUST_PROXY',
    description:
      'comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client (e.g. 127.0.0.1 behind a local nginx)',
  },
  logLevel: {
    flags: '--log-level <level>',
    env: 'IMGCACHE_LOG_LEVEL',
    description: 'fatal, error, warn, info, debug, trace or silent',
    fallback: DEFAULTS.logLevel,
  },
  logFormat: {
    flags: '--log-format <format>',
    env: 'IMGCACHE_LOG_FORMAT',
    description: 'json (one object per line) or pretty (for people)',
    fallback: DEFAULTS.logFormat,
  },
  originConnectTimeout: {
    flags: '--origin-connect-timeout <duration>',
    env: 'IMGCACHE_ORIGIN_CONNECT_TIMEOUT',
    description: 'time to connect to the origin, TLS handshake included (0: no limit)',
    fallback: DEFAULTS.originConnectTimeout,
  },
  originHeaderTimeout: {
    flags: '--origin-header-timeout <duration>',
    env: 'IMGCACHE_ORIGIN_HEADER_TIMEOUT',
    description: "time to wait for the origin's response headers (0: no limit)",
    fallback: DEFAULTS.originHeaderTimeout,
  },
  originIdleTimeout: {
    flags: '--origin-idle-timeout <duration>',
    env: 'IMGCACHE_ORIGIN_IDLE_TIMEOUT',
    description: 'time the origin may pause inside a body (0: no limit)',
    fallback: DEFAULTS.originIdleTimeout,
  },
  originCaFile: {
    flags: '--origin-ca-file <path>',
    env: 'IMGCACHE_ORIGIN_CA_FILE',
    description: "PEM bundle of the CAs that sign an https origin's certificate (instead of Node's bundled CAs)",
    path: true,
  },
  originCertFile: {
    flags: '--origin-cert-file <path>',
    env: 'IMGCACHE_ORIGIN_CERT_FILE',
    description: 'PEM client certificate presented to an https origin',
    path: true,
  },
  originKeyFile: {
    flags: '--origin-key-file <path>',
    env: 'IMGCACHE_ORIGIN_KEY_FILE',
    description: 'PEM private key of --origin-cert-file',
    path: true,
  },
  cluster: {
    flags: '--cluster <url>',
    env: 'IMGCACHE_CLUSTER_URL',
    description: 'PostgreSQL URL of the cluster to join (unset: a single node)',
  },
  advertiseUrl: {
    flags: '--advertise-url <url>',
    env: 'IMGCACHE_ADVERTISE_URL',
    description: 'URL peers reach this node at, e.g. http://10.0.0.5:9393 (required with --cluster)',
  },
  clusterSecret: {
    flags: '--cluster-secret <secret>',
    env: 'IMGCACHE_CLUSTER_SECRET',
    description: 'shared secret that authenticates requests between nodes (32+ characters)',
  },
  clusterSecretFile: {
    flags: '--cluster-secret-file <path>',
    env: 'IMGCACHE_CLUSTER_SECRET_FILE',
    description: 'file holding the shared cluster secret (its first line)',
  },
  clusterWeight: {
    flags: '--cluster-weight <n>',
    env: 'IMGCACHE_CLUSTER_WEIGHT',
    description: "this node's relative capacity",
    fallback: CLUSTER_DEFAULTS.clusterWeight,
  },
  clusterCopy: {
    flags: '--cluster-copy <policy>',
    env: 'IMGCACHE_CLUSTER_COPY',
    description:
      'a non-owner keeps a copy of what it fetched from the owner: always, never, or hot (after --cluster-hot-hits requests)',
    fallback: CLUSTER_DEFAULTS.clusterCopy,
  },
  clusterHotHits: {
    flags: '--cluster-hot-hits <n>',
    env: 'IMGCACHE_CLUSTER_HOT_HITS',
    description: 'requests on a non-owner that make an image hot',
    fallback: CLUSTER_DEFAULTS.clusterHotHits,
  },
  clusterHeartbeat: {
    flags: '--cluster-heartbeat <seconds>',
    env: 'IMGCACHE_CLUSTER_HEARTBEAT',
    description: 'seconds between heartbeats',
    fallback: CLUSTER_DEFAULTS.clusterHeartbeat,
  },
  clusterDeadAfter: {
    flags: '--cluster-dead-after <seconds>',
    env: 'IMGCACHE_CLUSTER_DEAD_AFTER',
    description: 'seconds of silence after which a node is dead',
    fallback: CLUSTER_DEFAULTS.clusterDeadAfter,
  },
};

/** The command line definition of `imgcache-server`. Usage errors are thrown, never printed or exited on here. */
export function createCommand(): Command {
  const command = new Command('imgcache-server')
    .description('Caching image proxy in front of a Glance API or any HTTP image origin.')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addOption(
      new Option(
        '--config <file>',
        'config file, TOML (*.toml) or JSON, with the settings below by their camelCase names; flags and variables win over it',
      ),
    );
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
 * Parses argv, the IMGCACHE_* variables and the `--config` file into a checked
 * configuration. A flag wins over its variable, which wins over the config file, which
 * wins over the default; an empty variable counts as unset; every value is checked, and
 * token and PEM files read, before anything starts.
 * @throws {ConfigError} naming the first unusable setting (the flag, the variable, or the key and file it came from).
 * @throws {ConfigFileError} (core) for a config file that cannot be read or parsed.
 * @throws {CommanderError} for an unknown flag, a flag without its value, `--help` or `--version`.
 */
export function parseArguments(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const command = createCommand();
  command.parse(argv as string[], { from: 'user' });
  const given = command.opts();
  const read = new SettingReader(FLAGS, given, env, typeof given.config === 'string' ? given.config : undefined);
  const duration = (key: SettingName, name: string) => read.withDefault(key, (value) => parseDuration(name, value));
  const pem = (key: SettingName, name: string) => read.optional(key, (value) => parsePemFile(name, value));
  const config: ServerConfig = {
    origin: read.required('origin', parseOrigin, 'an origin URL'),
    host: read.withDefault('host', parseHost),
    port: read.withDefault('port', (value) => parseInteger('port', value, 0, 65_535)),
    dir: read.required('dir', parseDirectory, 'a cache directory'),
    driver: read.withDefault('driver', (value) => parseDriverName(value, '--driver')),
    maxSize: read.withDefault('maxSize', (value) => parseSize('max-size', value)),
    minFree: read.withDefault('minFree', parseMinFree),
    stallTime: duration('stallTime', 'stall-time'),
    checksumAlgorithm: read.withDefault('checksumAlgorithm', parseChecksumAlgorithm),
    adminToken: read.secret('adminToken', 'adminTokenFile', (value) => parseToken('admin-token', value)),
    originToken: read.secret('originToken', 'originTokenFile', (value) => parseToken('origin-token', value)),
    public: read.withDefault('public', (value) => parseBoolean(value, '--public')),
    authTtl: duration('authTtl', 'auth-ttl'),
    authStale: duration('authStale', 'auth-stale'),
    prefetchConcurrency: read.withDefault('prefetchConcurrency', (value) =>
      parseInteger('prefetch-concurrency', value, 1, 64),
    ),
    maintenanceInterval: duration('maintenanceInterval', 'maintenance-interval'),
    logLevel: read.withDefault('logLevel', parseLogLevel),
    logFormat: read.withDefault('logFormat', parseLogFormat),
    rangeMiss: read.withDefault('rangeMiss', parseRangeMiss),
    accelRedirect: read.optional('accelRedirect', parseAccelRedirect),
    trustProxy: read.optional('trustProxy', parseTrustProxy),
    originConnectTimeout: duration('originConnectTimeout', 'origin-connect-timeout'),
    originHeaderTimeout: duration('originHeaderTimeout', 'origin-header-timeout'),
    originIdleTimeout: duration('originIdleTimeout', 'origin-idle-timeout'),
    originCaFile: pem('originCaFile', 'origin-ca-file'),
    originCertFile: pem('originCertFile', 'origin-cert-file'),
    originKeyFile: pem('originKeyFile', 'origin-key-file'),
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
    secretFiles: read.secretFiles,
  };
  // A client certificate is useless without its key, and the reverse.
  if ((config.originCertFile === undefined) !== (config.originKeyFile === undefined)) {
    const missing = config.originCertFile === undefined ? 'origin-cert-file' : 'origin-key-file';
    throw new ConfigError(
      missing,
      `--origin-cert-file and --origin-key-file go together; --${missing} (or ${FLAGS[missing === 'origin-cert-file' ? 'originCertFile' : 'originKeyFile'].env}) is missing`,
    );
  }
  if (config.clusterSecretFile !== undefined) {
    if (config.clusterSecret !== undefined)
      throw new ConfigError(
        'cluster-secret-file',
        'give the cluster secret once: --cluster-secret (or its variable) or --cluster-secret-file',
      );
    config.clusterSecret = readClusterSecretFile(config.clusterSecretFile);
  }
  checkClusterConfig(config);
  return config;
}
