import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/format/parse-size.js';

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['1048576', 1048576],
    ['512B', 512],
    ['1k', 1024],
    ['1K', 1024],
    ['1KiB', 1024],
    ['1KB', 1000],
    ['500M', 500 * 1024 ** 2],
    ['500MB', 500 * 1000 ** 2],
    ['10GiB', 10 * 1024 ** 3],
    ['10 GiB', 10 * 1024 ** 3],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2gb', 2 * 1000 ** 3],
    ['1T', 1024 ** 4],
    ['1.1K', 1126],
  ])('parses %s as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'abc', '10X', '-5M', '1e3', '5 MiBs', 'G', '1.2.3M'])('rejects %j as a usage error', (text) => {
    expect(() => parseSize(text)).toThrow(InvalidArgumentError);
  });

  it('rejects sizes beyond safe integers', () => {
    expect(() => parseSize('99999999P')).toThrow(/too large/);
  });
});
