import {
  CHECKSUM_ALGORITHMS,
  ImgcacheError,
  parseChecksum,
  parseChoice,
  parseDriverName,
  type ChecksumAlgorithm,
} from '@imgcache/core';
import { InvalidArgumentError } from 'commander';

/**
 * Commander argument parsers built on core's strict settings parsers, so the CLI reads
 * flags by the same rules as the server. Commander puts the flag's name in front of the
 * message and exits 2 (see bin.ts).
 */

/**
 * `--checksum-algorithm`: md5, sha256 or sha512 in any letter case.
 * @throws {InvalidArgumentError} for anything else.
 */
export function parseChecksumAlgorithmFlag(value: string): ChecksumAlgorithm {
  try {
    return parseChoice(value, CHECKSUM_ALGORITHMS, '--checksum-algorithm');
  } catch {
    throw new InvalidArgumentError(`Allowed choices are ${CHECKSUM_ALGORITHMS.join(', ')}.`);
  }
}

/**
 * `--driver`: sqlite or xattr in any letter case, or an npm package name.
 * @throws {InvalidArgumentError} for anything else.
 */
export function parseDriverFlag(value: string): string {
  return asArgumentError(() => parseDriverName(value, '--driver'));
}

/**
 * `cache-image --checksum`: 32 hex digits (md5) or `algorithm:hex`; kept as written.
 * @throws {InvalidArgumentError} for anything else.
 */
export function parseChecksumFlag(value: string): string {
  asArgumentError(() => parseChecksum(value));
  return value;
}

/**
 * A file or directory path: not empty (an empty `--dir=` would make the current directory
 * the cache), no NUL byte.
 * @throws {InvalidArgumentError} for anything else.
 */
export function parsePathFlag(value: string): string {
  if (value.length === 0) throw new InvalidArgumentError('a path is required, not an empty string.');
  if (value.includes('\0')) throw new InvalidArgumentError('a path cannot contain a NUL byte.');
  return value;
}

/**
 * Runs one of core's setting parsers and turns its refusal into commander's usage error,
 * keeping only the reason: commander puts the flag and the value in front of it.
 * @throws {InvalidArgumentError} when `parse` throws an imgcache error.
 */
export function asArgumentError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!ImgcacheError.is(error)) throw error;
    const reason = 'reason' in error && typeof error.reason === 'string' ? `${error.reason}.` : error.message;
    throw new InvalidArgumentError(reason);
  }
}
