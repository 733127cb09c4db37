import { describe, expect, it } from 'vitest';
import { ImgcacheError } from '@imgcache/core';
import { ConfigError, OriginError, OriginResponseError, OriginTimeoutError, originErrorAnswer } from '../src/errors.js';

describe("the server's errors", () => {
  it('are imgcache errors, each with its one code', () => {
    const errors = [
      [new ConfigError('port', 'must be a number'), 'ERR_IMGCACHE_SERVER_CONFIG'],
      [new OriginError('refused'), 'ERR_IMGCACHE_ORIGIN'],
      [new OriginTimeoutError('slow'), 'ERR_IMGCACHE_ORIGIN_TIMEOUT'],
      [new OriginResponseError('garbled'), 'ERR_IMGCACHE_ORIGIN_RESPONSE'],
    ] as const;
    for (const [error, code] of errors) {
      expect(ImgcacheError.is(error, code)).toBe(true);
      expect(error).toBeInstanceOf(ImgcacheError);
      expect(error.name).toBe(error.constructor.name);
    }
  });

  it('answers origin failures by matching the error, not a code string any error may carry', () => {
    expect(originErrorAnswer(new OriginTimeoutError('no bytes for 30 s'))).toEqual({
      status: 504,
      message: 'The origin did not answer in time: no bytes for 30 s',
    });
    expect(originErrorAnswer(new OriginError('ECONNREFUSED'))).toEqual({
      status: 502,
      message: 'The origin could not be reached: ECONNREFUSED',
    });
    // A library error that happens to use the same code string is not an origin failure.
    const lookalike = Object.assign(new Error('something else'), { code: 'ERR_IMGCACHE_ORIGIN_TIMEOUT' });
    expect(originErrorAnswer(lookalike)).toBeNull();
  });
});
