import { parseSize as parseSizeSetting } from '@imgcache/core';
import { asArgumentError } from '../option-parsers.js';

/**
 * Parses a size flag such as `10GiB`, `500M`, `.5G`, `1PiB`, `2000000000` or `2GB` into
 * bytes, by core's rules (the server's too): `K`…`P` and `KiB`… are powers of 1024,
 * `KB`… powers of 1000; a fraction of a byte is rounded down.
 * @throws {InvalidArgumentError} (commander's usage error) for anything else.
 */
export function parseSize(text: string): number {
  return asArgumentError(() => parseSizeSetting(text, 'size'));
}
