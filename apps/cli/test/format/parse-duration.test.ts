import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/format/parse-duration.js';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['86400', 86_400],
    ['90s', 90],
    ['30m', 1800],
    ['30min', 1800],
    ['24h', 86_400],
    ['1d', 86_400],
    ['1.5h', 5400],
  ])('parses %s as %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', 'soon', '-1', '5w', '1 day'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
  });
});
