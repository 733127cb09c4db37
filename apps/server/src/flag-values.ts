// The parsers of the server's flag values: each reads one flag (from the command line, an
// IMGCACHE_* variable or the config file) and refuses a bad value with a ConfigError naming it.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  CHECKSUM_ALGORITHMS,
  ImgcacheError,
  parseChoice,
  parseDuration as parseDurationSetting,
  parseSize as parseSizeSetting,
  type ChecksumAlgorithm,
} from '@imgcache/core';
import {
  LOG_FORMATS,
  LOG_LEVELS,
  RANGE_MISS_POLICIES,
  type LogFormat,
  type LogLevel,
  type MinFree,
  type RangeMiss,
} from './config.js';
import { ConfigError } from './errors.js';

/**
 * Parses a byte count by core's rules (the CLI's too): `1048576`, `512M`, `.5G`, `10GiB`,
 * `1PiB` (binary units), `500MB` (decimal).
 * @param name the flag without its dashes, e.g. `max-size`.
 * @throws {ConfigError} for anything else.
 */
export function parseSize(name: string, value: string | number): number {
  return asConfigError(name, () => parseSizeSetting(value, `--${name}`));
}

/**
 * Parses a duration by core's rules (the CLI's too): `90`, `90s`, `1.5m`, `24h`, `1d`. The
 * server's timers count whole seconds, so the result must be one (`1.5m` is, `1.5` is not).
 * @param name the flag without its dashes, e.g. `stall-time`.
 * @returns seconds.
 * @throws {ConfigError} for anything else.
 */
export function parseDuration(name: string, value: string | number): number {
  const seconds = asConfigError(name, () => parseDurationSetting(value, `--${name}`));
  if (!Number.isSafeInteger(seconds))
    throw new ConfigError(name, `${JSON.stringify(value)} is not a whole number of seconds; e.g. 90, 90s, 1.5m`);
  return seconds;
}

/**
 * Checks that a PEM file (a CA bundle, a certificate or a key) can be read and holds a PEM
 * block; returns its path. Read at start-up, so a wrong path stops the server before it serves.
 * @throws {ConfigError} for an unreadable file or one without a PEM block.
 */
export function parsePemFile(name: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      name,
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(name, `${path} holds no PEM block (-----BEGIN …)`);
  return path;
}

/** Runs one of core's setting parsers and re-raises its refusal as a ConfigError for `--name`. */
function asConfigError<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING'))
      throw new ConfigError(name, (error as unknown as { reason: string }).reason);
    throw error;
  }
}

/**
 * Parses the free-disk floor: a size, or a percentage of the filesystem such as `5%`.
 * @throws {ConfigError} for anything else.
 */
export function parseMinFree(value: string | number): MinFree {
  if (typeof value === 'string' && value.trim().endsWith('%')) {
    const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
    const percent = match ? Number(match[1]) : Number.NaN;
    if (!(percent <= 100))
      throw new ConfigError('min-free', `${JSON.stringify(value)} is not a percentage from 0% to 100%`);
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError('origin', 'the origin must be an http or https URL');
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
  if (value.length === 0 || value.includes('\0'))
    throw new ConfigError('dir', `${JSON.stringify(value)} is not a directory path`);
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
 * Checks the log format: one of {@link LOG_FORMATS}, in any letter case.
 * @throws {InvalidSettingError} for anything else.
 */
export function parseLogFormat(value: string): LogFormat {
  return parseChoice(value, LOG_FORMATS, '--log-format');
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
 * Checks an X-Accel-Redirect prefix: an absolute URI path ending in `/`, of characters that
 * need no escaping (image ids are `[A-Za-z0-9._-]`, so the whole redirect stays plain).
 * @throws {ConfigError} for anything else.
 */
export function parseAccelRedirect(value: string): string {
  if (/^\/(?:[A-Za-z0-9._~-]+\/)*$/.test(value) && !/(^|\/)\.\.?\//.test(value)) return value;
  throw new ConfigError(
    'accel-redirect',
    `${JSON.stringify(value)} is not a URI path prefix such as /_imgcache/ (letters, digits, . _ ~ - and /; starts and ends with /)`,
  );
}

/**
 * Reads `--trust-proxy`: a comma-separated list of IP addresses or CIDR ranges.
 * @throws {ConfigError} for an empty list or an entry that is neither.
 */
export function parseTrustProxy(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const valid = (entry: string) => {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || extra !== undefined) return false;
    if (bits === undefined) return true;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  };
  const bad = entries.find((entry) => !valid(entry));
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(
      'trust-proxy',
      `${JSON.stringify(bad ?? value)} is not an IP address or CIDR range (give a comma-separated list, e.g. 127.0.0.1,10.0.0.0/8)`,
    );
  }
  return entries;
}

/**
 * Checks a token that travels in an HTTP header: printable ASCII, no leading or trailing
 * space (HTTP strips those, so such a token could never match).
 * @throws {ConfigError} for anything else.
 */
export function parseToken(name: string, value: string): string {
  if (/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) return value;
  throw new ConfigError(
    name,
    'must be printable ASCII without leading or trailing spaces, as it is sent in an HTTP header',
  );
}
