import { describe, expect, it } from 'vitest';
import { ImgcacheError, InvalidSettingError, parseDuration, parseSize } from '../src/index.js';

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['1048576', 1_048_576],
    ['512B', 512],
    ['1k', 1024],
    ['1KiB', 1024],
    ['1KB', 1000],
    ['.5G', 512 * 1024 ** 2],
    ['1.5 G', 1.5 * 1024 ** 3],
    ['10GiB', 10 * 1024 ** 3],
    ['2gb', 2 * 1000 ** 3],
    ['1T', 1024 ** 4],
    ['1PiB', 1024 ** 5],
    ['2PB', 2 * 1000 ** 5],
    ['1.1K', 1126],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text, '--max-size')).toBe(bytes);
  });

  it('takes a whole number of bytes from a config file', () => {
    expect(parseSize(1000, '"maxSize" in config file x.json')).toBe(1000);
    expect(() => parseSize(-1, 'maxSize')).toThrow('Invalid maxSize: -1 is not a whole number of bytes, 0 or more.');
    expect(() => parseSize(1.5, 'maxSize')).toThrow(InvalidSettingError);
  });

  it.each(['', 'lots', '10X', '-5M', '1e3', '5 MiBs', 'G', '1.2.3M', '10ib'])(
    'refuses %j, naming the setting',
    (text) => {
      let error: unknown;
      try {
        parseSize(text, 'IMGCACHE_MAX_SIZE');
      } catch (caught) {
        error = caught;
      }
      expect(ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING')).toBe(true);
      expect((error as Error).message).toBe(
        `Invalid IMGCACHE_MAX_SIZE: ${JSON.stringify(text)} is not a size; use bytes or a unit, e.g. 500M, 10GiB, 2GB.`,
      );
    },
  );

  it.each(['1.5', '1.5B', '.5', '9393.0'])(
    'refuses the fractional byte count %j rather than rounding it down',
    (text) => {
      expect(() => parseSize(text, '--max-size')).toThrow(
        `Invalid --max-size: ${JSON.stringify(text)} is not a whole number of bytes; give bytes as digits or a unit, e.g. 1536, 1.5K, 1.5G.`,
      );
    },
  );

  it.each(['0.0001K', '.0000000001G'])(
    'refuses %j, a non-zero size below one byte, rather than a budget of 0',
    (text) => {
      expect(() => parseSize(text, '--max-size')).toThrow(
        `Invalid --max-size: ${JSON.stringify(text)} is less than one byte.`,
      );
    },
  );

  it('keeps a zero size with a unit, and rounds a fraction of a unit down to whole bytes', () => {
    expect(parseSize('0K', '--min-free')).toBe(0);
    expect(parseSize('1.3K', '--max-size')).toBe(1331);
  });

  it('refuses sizes beyond safe integers', () => {
    expect(() => parseSize('99999999P', '--max-size')).toThrow('Invalid --max-size: "99999999P" is too large.');
  });
});

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['86400', 86_400],
    ['90s', 90],
    ['90 sec', 90],
    ['1.5m', 90],
    ['30min', 1800],
    ['24h', 86_400],
    ['.5h', 1800],
    ['1d', 86_400],
    ['2.5', 2.5],
  ])('reads %j as %d seconds', (text, seconds) => {
    expect(parseDuration(text, '--stall-time')).toBe(seconds);
  });

  it('takes seconds from a config file', () => {
    expect(parseDuration(30, 'stallTime')).toBe(30);
    expect(() => parseDuration(-1, 'stallTime')).toThrow(
      'Invalid stallTime: -1 is not a number of seconds, 0 or more.',
    );
  });

  it.each(['', 'soon', '-1', '5w', '1 day', '1e3'])('refuses %j, naming the setting', (text) => {
    expect(() => parseDuration(text, '--auth-ttl')).toThrow(
      `Invalid --auth-ttl: ${JSON.stringify(text)} is not a duration; use seconds or a unit, e.g. 3600, 90s, 30m, 24h, 1d.`,
    );
  });
});
