import { createHash, type Hash } from 'node:crypto';
import { InvalidChecksumError, InvalidOptionError } from './errors.js';

/** Digest algorithms a cache can verify and record. */
export type ChecksumAlgorithm = 'md5' | 'sha256' | 'sha512';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['md5', 'sha256', 'sha512'];

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { md5: 32, sha256: 64, sha512: 128 };

/** A checksum split into its algorithm and lower-case hex digest. */
export interface ParsedChecksum {
  algorithm: ChecksumAlgorithm;
  hex: string;
}

export function assertChecksumAlgorithm(value: unknown): asserts value is ChecksumAlgorithm {
  if (!CHECKSUM_ALGORITHMS.includes(value as ChecksumAlgorithm)) {
    throw new InvalidOptionError(
      'checksumAlgorithm',
      `${JSON.stringify(value)} is not one of ${CHECKSUM_ALGORITHMS.join(', ')}`,
    );
  }
}

/**
 * Parses an expected checksum: a bare 32-hex md5 (the form Glance stores) or `algorithm:hex`.
 * @throws {InvalidChecksumError} for anything else.
 */
export function parseChecksum(value: string): ParsedChecksum {
  const colon = value.indexOf(':');
  const algorithm = colon === -1 ? 'md5' : value.slice(0, colon).toLowerCase();
  const hex = (colon === -1 ? value : value.slice(colon + 1)).toLowerCase();
  if (!CHECKSUM_ALGORITHMS.includes(algorithm as ChecksumAlgorithm)) {
    throw new InvalidChecksumError(value, `unknown algorithm ${JSON.stringify(algorithm)}`);
  }
  const expectedLength = HEX_LENGTH[algorithm as ChecksumAlgorithm];
  if (hex.length !== expectedLength || !/^[0-9a-f]+$/.test(hex)) {
    throw new InvalidChecksumError(value, `${algorithm} needs ${expectedLength} hex digits`);
  }
  return { algorithm: algorithm as ChecksumAlgorithm, hex };
}

/** The canonical `algorithm:hex` form that caches store. */
export function formatChecksum(parsed: ParsedChecksum): string {
  return `${parsed.algorithm}:${parsed.hex}`;
}

/**
 * Hashes one stream with every algorithm it is asked for, so a cache configured for sha256
 * can still verify an origin's md5 in the same pass.
 */
export class MultiHasher {
  private readonly hashes = new Map<ChecksumAlgorithm, Hash>();

  constructor(algorithms: Iterable<ChecksumAlgorithm>) {
    for (const algorithm of algorithms) {
      if (!this.hashes.has(algorithm)) this.hashes.set(algorithm, createHash(algorithm));
    }
  }

  update(chunk: Uint8Array): void {
    for (const hash of this.hashes.values()) hash.update(chunk);
  }

  /** Finishes every hash; call once. */
  digest(): Map<ChecksumAlgorithm, string> {
    const result = new Map<ChecksumAlgorithm, string>();
    for (const [algorithm, hash] of this.hashes) result.set(algorithm, hash.digest('hex'));
    return result;
  }
}
