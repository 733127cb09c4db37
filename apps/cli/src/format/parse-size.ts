import { InvalidArgumentError } from 'commander';

/** Multipliers by unit, lower-cased. Single letters and `*iB` are binary; `KB`, `MB`… are decimal. */
const MULTIPLIERS: Readonly<Record<string, number>> = {
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

const SIZE_PATTERN = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i;

/**
 * Parses a size such as `10GiB`, `500M`, `1.5 G`, `2000000000` or `2GB` into bytes.
 * `K`/`M`/`G`/`T`/`P` and `KiB`… are powers of 1024; `KB`/`MB`/`GB`… powers of 1000.
 * A fractional result is rounded down to whole bytes.
 * @throws {InvalidArgumentError} (commander's usage error) for anything else.
 */
export function parseSize(text: string): number {
  const match = SIZE_PATTERN.exec(text);
  const multiplier = match ? MULTIPLIERS[match[2]!.toLowerCase()] : undefined;
  if (!match || multiplier === undefined) {
    throw new InvalidArgumentError(`"${text}" is not a size; use bytes or a unit, e.g. 500M, 10GiB, 2GB.`);
  }
  const bytes = Math.floor(Number(match[1]) * multiplier);
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`"${text}" is too large.`);
  return bytes;
}
