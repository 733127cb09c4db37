import { InvalidSettingError } from './errors.js';

/**
 * Sizes and durations as both apps read them from flags, `IMGCACHE_*` variables and config
 * files: one grammar, one set of messages.
 */

/** Bytes per unit, by lower-cased unit. Single letters and `*iB` are binary; `KB`, `MB`… decimal. */
const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  pb: 1000 ** 5,
};

/** Seconds per unit, by lower-cased unit. */
const SECONDS_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86_400,
};

/** A non-negative decimal (`10`, `1.5`, `.5`) and an optional unit of letters, spaces around allowed. */
const QUANTITY = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i;

/**
 * Parses a size into whole bytes: `2000000000`, `500M`, `.5G`, `10GiB`, `1.5 T`, `2GB`,
 * `1PiB`. `K`/`M`/`G`/`T`/`P` and `KiB`… are powers of 1024, `KB`/`MB`… powers of 1000
 * (IEC 80000-13 and SI); a fraction of a unit is rounded down to whole bytes (`1.1K` is
 * 1126), but a count of bytes with a decimal point (`1.5`, `1.5B`, `9393.0`) is refused. A
 * number (from a config file) is a byte count.
 * @param setting the name to report, e.g. `--max-size` or `IMGCACHE_MAX_SIZE`.
 * @throws {InvalidSettingError} for anything else, a negative or a non-whole number of
 * bytes, or more bytes than a safe integer holds.
 */
export function parseSize(value: string | number, setting: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new InvalidSettingError(setting, String(value), `${value} is not a whole number of bytes, 0 or more`);
  }
  const match = QUANTITY.exec(value);
  const multiplier = match ? BYTES_PER_UNIT[match[2]!.toLowerCase()] : undefined;
  if (!match || multiplier === undefined) {
    throw new InvalidSettingError(
      setting,
      value,
      `${JSON.stringify(value)} is not a size; use bytes or a unit, e.g. 500M, 10GiB, 2GB`,
    );
  }
  // A fraction of a unit is a whole number of bytes or close to it (`1.5G`); a fraction of
  // one byte is a mistake (`1.5` for 1.5 GiB), never rounded down to a byte.
  if (multiplier === 1 && match[1]!.includes('.')) {
    throw new InvalidSettingError(
      setting,
      value,
      `${JSON.stringify(value)} is not a whole number of bytes; give bytes as digits or a unit, e.g. 1536, 1.5K, 1.5G`,
    );
  }
  const exact = Number(match[1]) * multiplier;
  const bytes = Math.floor(exact);
  if (!Number.isSafeInteger(bytes))
    throw new InvalidSettingError(setting, value, `${JSON.stringify(value)} is too large`);
  // Rounding a non-zero size down to nothing would turn a typo into a budget of 0 bytes.
  if (bytes === 0 && exact > 0)
    throw new InvalidSettingError(setting, value, `${JSON.stringify(value)} is less than one byte`);
  return bytes;
}

/**
 * Parses a duration into seconds (fractions kept): `86400`, `90s`, `1.5m`, `30min`, `24h`,
 * `1d`. A number (from a config file) is seconds.
 * @param setting the name to report, e.g. `--stall-time` or `IMGCACHE_STALL_TIME`.
 * @throws {InvalidSettingError} for anything else or a negative number.
 */
export function parseDuration(value: string | number, setting: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new InvalidSettingError(setting, String(value), `${value} is not a number of seconds, 0 or more`);
  }
  const match = QUANTITY.exec(value);
  const perUnit = match ? SECONDS_PER_UNIT[match[2]!.toLowerCase()] : undefined;
  if (!match || perUnit === undefined) {
    throw new InvalidSettingError(
      setting,
      value,
      `${JSON.stringify(value)} is not a duration; use seconds or a unit, e.g. 3600, 90s, 30m, 24h, 1d`,
    );
  }
  return Number(match[1]) * perUnit;
}
