import { describe, expect, it } from 'vitest';
import { ImgcacheError, InvalidOptionError } from '@imgcache/core';
import { InterruptedError, OperationFailedError, RemoteRequestError, UsageError, exitStatusOf } from '../src/errors.js';

describe("the CLI's errors", () => {
  it('are imgcache errors, matched by code, each with its exit status', () => {
    const errors = [
      [new UsageError('bad flag'), 'ERR_IMGCACHE_CLI_USAGE', 2],
      [new OperationFailedError('2 images failed'), 'ERR_IMGCACHE_CLI_FAILED', 1],
      [new InterruptedError('interrupted'), 'ERR_IMGCACHE_CLI_INTERRUPTED', 130],
      [new RemoteRequestError('unreachable', 503), 'ERR_IMGCACHE_CLI_REMOTE', 1],
    ] as const;
    for (const [error, code, status] of errors) {
      expect(ImgcacheError.is(error, code)).toBe(true);
      expect(error.exitStatus).toBe(status);
      expect(exitStatusOf(error)).toBe(status);
    }
  });

  it("gives core's configuration errors exit status 2 and anything else 1, never by message or class name", () => {
    expect(exitStatusOf(new InvalidOptionError('maxSize', 'must be a whole number of bytes'))).toBe(2);
    expect(exitStatusOf(new Error('ERR_IMGCACHE_CLI_USAGE'))).toBe(1);
    expect(
      exitStatusOf(Object.assign(new Error('lookalike'), { code: 'ERR_IMGCACHE_INVALID_OPTION', exitStatus: 2 })),
    ).toBe(1);
  });
});
