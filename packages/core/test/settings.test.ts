import { describe, expect, it } from 'vitest';
import {
  ImgcacheError,
  InvalidSettingError,
  parseBoolean,
  parseChoice,
  parseDriverName,
  readEnvSetting,
} from '../src/index.js';

describe('strict settings', () => {
  it('reads true|1|yes|on and false|0|no|off in any letter case', () => {
    for (const word of ['true', '1', 'yes', 'on', 'TRUE', 'Yes', 'oN'])
      expect(parseBoolean(word, '--public')).toBe(true);
    for (const word of ['false', '0', 'no', 'off', 'FALSE', 'No', 'OFF'])
      expect(parseBoolean(word, '--public')).toBe(false);
  });

  it('refuses every other boolean word, naming the setting and the accepted words', () => {
    for (const word of ['', ' true', 'true\r', 'enabled', '2', 'y', 'n', 'null', 'undefined']) {
      let error: unknown;
      try {
        parseBoolean(word, 'IMGCACHE_PUBLIC');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidSettingError);
      expect(ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING')).toBe(true);
      expect(error).toMatchObject({ setting: 'IMGCACHE_PUBLIC', value: word });
      expect((error as Error).message).toBe(
        `Invalid IMGCACHE_PUBLIC: ${JSON.stringify(word)} is not a boolean; use true, 1, yes, on or false, 0, no, off.`,
      );
    }
  });

  it('matches enumerated values in any letter case and returns the accepted spelling', () => {
    const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
    expect(parseChoice('INFO', levels, '--log-level')).toBe('info');
    expect(parseChoice('trace', levels, '--log-level')).toBe('trace');
    expect(() => parseChoice('loud', levels, '--log-level')).toThrow(
      'Invalid --log-level: "loud" must be one of fatal, error, warn, info, debug, trace, silent.',
    );
    expect(() => parseChoice('', levels, 'IMGCACHE_LOG_LEVEL')).toThrow(
      /Invalid IMGCACHE_LOG_LEVEL: "" must be one of/,
    );
  });

  it('takes first-party driver names in any case and package names as written', () => {
    expect(parseDriverName('SQLite', '--driver')).toBe('sqlite');
    expect(parseDriverName('xattr', '--driver')).toBe('xattr');
    expect(parseDriverName('@acme/imgcache-driver-pg', '--driver')).toBe('@acme/imgcache-driver-pg');
    for (const bad of ['../evil', '/abs/path', 'Upper-Case-Package', 'two words', '']) {
      expect(() => parseDriverName(bad, 'IMGCACHE_DRIVER')).toThrow(
        `Invalid IMGCACHE_DRIVER: ${JSON.stringify(bad)} is neither sqlite, xattr nor an npm package name.`,
      );
    }
  });

  it('treats an empty environment variable as unset', () => {
    expect(readEnvSetting({ IMGCACHE_X: '' }, 'IMGCACHE_X')).toBeUndefined();
    expect(readEnvSetting({}, 'IMGCACHE_X')).toBeUndefined();
    expect(readEnvSetting({ IMGCACHE_X: 'off' }, 'IMGCACHE_X')).toBe('off');
  });
});
