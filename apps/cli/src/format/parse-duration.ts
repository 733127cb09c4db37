import { InvalidArgumentError } from 'commander';

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86_400,
};

const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;

/**
 * Parses a duration in seconds: `86400`, `90s`, `30m`, `24h`, `1d` (also `sec`, `min`).
 * @throws {InvalidArgumentError} (commander's usage error) for anything else.
 */
export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  const perUnit = match ? SECONDS_PER_UNIT[match[2]!.toLowerCase()] : undefined;
  if (!match || perUnit === undefined) {
    throw new InvalidArgumentError(`"${text}" is not a duration; use seconds or a unit, e.g. 3600, 30m, 24h, 1d.`);
  }
  return Number(match[1]) * perUnit;
}
