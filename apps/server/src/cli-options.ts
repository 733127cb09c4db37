import { Command, Option } from 'commander';
import { DEFAULTS, parseChecksumAlgorithm, parseRangeMiss, parseInteger, parseMinFree, parseOrigin, parseSize, type ServerConfig } from './config.js';
import { ConfigError } from './errors.js';

interface RawOptions {
  origin?: string;
  host: string;
  port: string;
  dir?: string;
  driver: string;
  maxSize: string;
  minFree: string;
  stallTime: string;
  checksumAlgorithm: string;
  adminToken?: string;
  originToken?: string;
  public: boolean;
  authTtl: string;
  prefetchConcurrency: string;
  maintenanceInterval: string;
  logLevel: string;
  rangeMiss: string;
}

/** Flag, env var, description and default of every setting (also the README's table). */
const FLAGS: [flags: string, env: string, description: string, fallback?: string | number][] = [
  ['--origin <url>', 'IMGCACHE_ORIGIN', 'Glance API base URL, or an image data URL template containing {id}'],
  ['--host <host>', 'IMGCACHE_HOST', 'address to listen on', DEFAULTS.host],
  ['--port <port>', 'IMGCACHE_PORT', 'port to listen on (0 picks a free one)', DEFAULTS.port],
  ['--dir <path>', 'IMGCACHE_DIR', 'cache directory'],
  ['--driver <name>', 'IMGCACHE_DRIVER', 'metadata driver: sqlite, xattr or a package name', DEFAULTS.driver],
  ['--max-size <size>', 'IMGCACHE_MAX_SIZE', 'cache budget (bytes, or K/M/G/T)', DEFAULTS.maxSize],
  ['--min-free <size|%>', 'IMGCACHE_MIN_FREE', 'free disk space to keep: bytes or a percentage of the filesystem', DEFAULTS.minFree],
  ['--stall-time <seconds>', 'IMGCACHE_STALL_TIME', 'age after which an unfinished write is cleaned', DEFAULTS.stallTime],
  ['--checksum-algorithm <name>', 'IMGCACHE_CHECKSUM_ALGORITHM', 'digest recorded for cached images: md5, sha256, sha512', DEFAULTS.checksumAlgorithm],
  ['--admin-token <token>', 'IMGCACHE_ADMIN_TOKEN', 'token for the management API (disabled when unset)'],
  ['--origin-token <token>', 'IMGCACHE_ORIGIN_TOKEN', 'X-Auth-Token the prefetcher and readiness probe send to the origin'],
  ['--auth-ttl <seconds>', 'IMGCACHE_AUTH_TTL', 'how long an origin authorisation of a client is remembered', DEFAULTS.authTtl],
  ['--prefetch-concurrency <n>', 'IMGCACHE_PREFETCH_CONCURRENCY', 'queued images fetched at once', DEFAULTS.prefetchConcurrency],
  ['--maintenance-interval <seconds>', 'IMGCACHE_MAINTENANCE_INTERVAL', 'seconds between prune/clean/prefetch runs (0: off)', DEFAULTS.maintenanceInterval],
  ['--range-miss <policy>', 'IMGCACHE_RANGE_MISS', 'a Range request for an uncached image: fill (start the fill, answer from it) or pass (proxy it uncached)', DEFAULTS.rangeMiss],
  ['--log-level <level>', 'IMGCACHE_LOG_LEVEL', 'fatal, error, warn, info, debug, trace or silent', DEFAULTS.logLevel],
];

/** The command line definition of `imgcache-server`. */
export function createCommand(): Command {
  const command = new Command('imgcache-server').description('Caching image proxy in front of a Glance API or any HTTP image origin.');
  for (const [flags, env, description, fallback] of FLAGS) {
    const option = new Option(flags, description).env(env);
    command.addOption(fallback === undefined ? option : option.default(String(fallback)));
  }
  command.addOption(new Option('--public', 'serve cached images without asking the origin to authorise each client').env('IMGCACHE_PUBLIC').default(false));
  return command;
}

/**
 * Turns parsed flags into a checked configuration.
 * @throws {ConfigError} naming the first unusable setting.
 */
export function toServerConfig(raw: RawOptions): ServerConfig {
  if (!raw.dir) throw new ConfigError('dir', 'a cache directory is required (--dir or IMGCACHE_DIR)');
  return {
    origin: parseOrigin(raw.origin),
    host: raw.host,
    port: parseInteger('port', raw.port, 0, 65_535),
    dir: raw.dir,
    driver: raw.driver,
    maxSize: parseSize('max-size', raw.maxSize),
    minFree: parseMinFree(raw.minFree),
    stallTime: parseInteger('stall-time', raw.stallTime, 0),
    checksumAlgorithm: parseChecksumAlgorithm(raw.checksumAlgorithm),
    adminToken: raw.adminToken || undefined,
    originToken: raw.originToken || undefined,
    public: raw.public === true || String(raw.public) === 'true' || String(raw.public) === '1',
    authTtl: parseInteger('auth-ttl', raw.authTtl, 0),
    prefetchConcurrency: parseInteger('prefetch-concurrency', raw.prefetchConcurrency, 1, 64),
    maintenanceInterval: parseInteger('maintenance-interval', raw.maintenanceInterval, 0),
    logLevel: raw.logLevel,
    rangeMiss: parseRangeMiss(raw.rangeMiss),
  };
}

/**
 * Parses argv (and IMGCACHE_* variables) into a configuration.
 * @throws {ConfigError} for an unusable setting.
 */
export function parseArguments(argv: readonly string[]): ServerConfig {
  const command = createCommand();
  command.parse(argv as string[], { from: 'user' });
  return toServerConfig(command.opts<RawOptions>());
}
