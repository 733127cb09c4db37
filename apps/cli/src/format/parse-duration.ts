import { parseDuration as parseDurationSetting } from '@imgcache/core';
import { asArgumentError } from '../option-parsers.js';

/**
 * Parses a duration flag into seconds by core's rules (the server's too): `86400`, `90s`,
 * `1.5m`, `30min`, `24h`, `1d`.
 * @throws {InvalidArgumentError} (commander's usage error) for anything else.
 */
export function parseDuration(text: string): number {
  return asArgumentError(() => parseDurationSetting(text, 'duration'));
}
