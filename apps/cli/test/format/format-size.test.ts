import { describe, expect, it } from 'vitest';
import { formatSize } from '../../src/format/format-size.js';

describe('formatSize', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024, '1 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [10 * 1024 ** 3, '10 GiB'],
    [123.4 * 1024 ** 2, '123 MiB'],
    [99.95 * 1024, '100 KiB'],
    [1023.9 * 1024, '1 MiB'],
    [2 * 1024 ** 4, '2 TiB'],
  ])('formats %d bytes as %s', (bytes, expected) => {
    expect(formatSize(bytes)).toBe(expected);
  });

  it('refuses negative and non-finite counts', () => {
    expect(() => formatSize(-1)).toThrow(RangeError);
    expect(() => formatSize(Number.NaN)).toThrow(RangeError);
    expect(() => formatSize(Infinity)).toThrow(RangeError);
  });
});
