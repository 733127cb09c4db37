import { InvalidSettingError } from './errors.js';
import { FIRST_PARTY_DRIVERS, driverPackageName } from './load-driver.js';

/**
 * Strict parsing of the settings both apps read from flags, the environment and config
 * files. One rule everywhere: a value is one of the accepted words (any letter case) or it
 * is refused with an error that names the setting as the user wrote it; nothing is guessed.
 */

/** Where a setting's value came from, from highest to lowest precedence. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** Words read as true, in any letter case. */
export const TRUE_WORDS = ['true', '1', 'yes', 'on'] as const;
/** Words read as false, in any letter case. */
export const FALSE_WORDS = ['false', '0', 'no', 'off'] as const;

/**
 * Parses a boolean setting: `true|1|yes|on` or `false|0|no|off`, in any letter case.
 * Nothing else is accepted, not even surrounding spaces: `IMGCACHE_PUBLIC=false` must never
 * be read as "set, so on".
 * @param setting the name to report, e.g. `--public` or `IMGCACHE_PUBLIC`.
 * @throws {InvalidSettingError} for any other value.
 */
export function parseBoolean(value: string, setting: string): boolean {
  const word = value.toLowerCase();
  if ((TRUE_WORDS as readonly string[]).includes(word)) return true;
  if ((FALSE_WORDS as readonly string[]).includes(word)) return false;
  throw new InvalidSettingError(
    setting,
    value,
    `${JSON.stringify(value)} is not a boolean; use ${TRUE_WORDS.join(', ')} or ${FALSE_WORDS.join(', ')}`,
  );
}

/**
 * Parses an enumerated setting, matching letter case loosely and returning the accepted
 * spelling (`INFO` gives `info`).
 * @param setting the name to report, e.g. `--log-level` or `IMGCACHE_LOG_LEVEL`.
 * @throws {InvalidSettingError} when the value is none of `choices`.
 */
export function parseChoice<T extends string>(value: string, choices: readonly T[], setting: string): T {
  const match = choices.find((choice) => choice.toLowerCase() === value.toLowerCase());
  if (match !== undefined) return match;
  throw new InvalidSettingError(setting, value, `${JSON.stringify(value)} must be one of ${choices.join(', ')}`);
}

/**
 * Parses a driver name: a first-party short name in any letter case (`sqlite`, `xattr`,
 * returned in lower case) or an npm package name, which is passed through as written.
 * @throws {InvalidSettingError} for anything else (a path, spaces, upper-case package names).
 */
export function parseDriverName(value: string, setting: string): string {
  const short = value.toLowerCase();
  if (Object.hasOwn(FIRST_PARTY_DRIVERS, short)) return short;
  try {
    driverPackageName(value);
    return value;
  } catch {
    const names = Object.keys(FIRST_PARTY_DRIVERS).join(', ');
    throw new InvalidSettingError(
      setting,
      value,
      `${JSON.stringify(value)} is neither ${names} nor an npm package name`,
    );
  }
}

/**
 * An environment variable's value; an empty variable counts as unset in both apps, so that
 * `IMGCACHE_X=` in an env file or a template that expanded to nothing means "the default".
 */
export function readEnvSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Where a value was given, for messages: the flag, the environment variable (and its
 * flag), or the key of a config file.
 */
export type SettingOrigin =
  | { source: 'flag'; flag: string }
  | { source: 'env'; env: string; flag: string }
  | { source: 'file'; key: string; file: string };

/**
 * The name both apps put after "Invalid" when a value is refused: `--max-size`,
 * `IMGCACHE_MAX_SIZE (the environment variable for --max-size)` or
 * `"maxSize" in config file /etc/imgcache/server.toml`.
 */
export function describeSettingOrigin(origin: SettingOrigin): string {
  switch (origin.source) {
    case 'flag':
      return origin.flag;
    case 'env':
      return `${origin.env} (the environment variable for ${origin.flag})`;
    case 'file':
      return `${JSON.stringify(origin.key)} in config file ${origin.file}`;
  }
}

/**
 * The cache settings both apps share, with the flag and the environment variable each is
 * read from; a config-file key is the property name. One table, so `IMGCACHE_MAX_SIZE`
 * means the same to `imgcache` and `imgcache-server`.
 */
export const CACHE_SETTINGS = {
  dir: { flag: '--dir', env: 'IMGCACHE_DIR' },
  driver: { flag: '--driver', env: 'IMGCACHE_DRIVER' },
  maxSize: { flag: '--max-size', env: 'IMGCACHE_MAX_SIZE' },
  stallTime: { flag: '--stall-time', env: 'IMGCACHE_STALL_TIME' },
  checksumAlgorithm: { flag: '--checksum-algorithm', env: 'IMGCACHE_CHECKSUM_ALGORITHM' },
} as const satisfies Record<string, { flag: string; env: string }>;

/**
 * The keys of an `imgcache-server` config file that are not {@link CACHE_SETTINGS}: the
 * `imgcache` CLI reads a server's file with `--config` and skips these, so an operator can
 * point both at one file. A server test keeps this list equal to the server's own.
 */
export const SERVER_ONLY_SETTINGS = [
  'origin',
  'host',
  'port',
  'minFree',
  'adminToken',
  'adminTokenFile',
  'originToken',
  'originTokenFile',
  'public',
  'authTtl',
  'authStale',
  'prefetchConcurrency',
  'maintenanceInterval',
  'rangeMiss',
  'accelRedirect',
  'trustProxy',
  'logLevel',
  'logFormat',
  'originConnectTimeout',
  'originHeaderTimeout',
  'originIdleTimeout',
  'originCaFile',
  'originCertFile',
  'originKeyFile',
  'cluster',
  'advertiseUrl',
  'clusterSecret',
  'clusterSecretFile',
  'clusterWeight',
  'clusterCopy',
  'clusterHotHits',
  'clusterHeartbeat',
  'clusterDeadAfter',
] as const;
