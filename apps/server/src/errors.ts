import { ImgcacheError, describeSettingOrigin, type ImgcacheErrorCode } from '@imgcache/core';

/**
 * A server setting that cannot work. The message names the flag, the environment variable
 * when the value came from there, or the key and file when it came from a config file, and
 * says what is accepted (core's {@link describeSettingOrigin}, as in the CLI).
 */
export class ConfigError extends ImgcacheError {
  /** The environment variable the value came from, when it did. */
  readonly env: string | undefined;
  /** The config file the value came from, when it did, and its key there. */
  readonly file: string | undefined;
  readonly key: string | undefined;

  constructor(
    /** The flag without its dashes, e.g. `log-level`. */
    readonly option: string,
    /** Why the value is refused, without the setting's name. */
    readonly reason: string,
    /** Where the value came from, when not from the flag. */
    from?: { env: string } | { file: string; key: string },
  ) {
    const flag = `--${option}`;
    const where =
      from === undefined
        ? describeSettingOrigin({ source: 'flag', flag })
        : 'env' in from
          ? describeSettingOrigin({ source: 'env', env: from.env, flag })
          : describeSettingOrigin({ source: 'file', key: from.key, file: from.file });
    super('ERR_IMGCACHE_SERVER_CONFIG', `Invalid ${where}: ${reason}.`);
    this.env = from && 'env' in from ? from.env : undefined;
    this.file = from && 'file' in from ? from.file : undefined;
    this.key = from && 'key' in from ? from.key : undefined;
  }
}

/** The origin could not be reached or broke off; answered with 502. */
export class OriginError extends ImgcacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_ORIGIN', message, options);
  }
}

/** The origin did not connect, answer or send its next bytes in time; answered with 504. */
export class OriginTimeoutError extends ImgcacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_ORIGIN_TIMEOUT', message, options);
  }
}

/**
 * The origin answered, but with something that cannot be used: announcements that
 * contradict each other, or a body framed in a way that cannot be relayed. Answered with 502.
 */
export class OriginResponseError extends ImgcacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_ORIGIN_RESPONSE', message, options);
  }
}

/** Status and message prefix of the answer to each origin failure. */
const ORIGIN_ANSWERS: readonly { code: ImgcacheErrorCode; status: number; prefix: string }[] = [
  { code: 'ERR_IMGCACHE_ORIGIN', status: 502, prefix: 'The origin could not be reached' },
  { code: 'ERR_IMGCACHE_ORIGIN_RESPONSE', status: 502, prefix: "The origin's answer could not be used" },
  { code: 'ERR_IMGCACHE_ORIGIN_TIMEOUT', status: 504, prefix: 'The origin did not answer in time' },
];

/** The status and message a client gets for an origin failure, or null for any other error. */
export function originErrorAnswer(error: unknown): { status: number; message: string } | null {
  const answer = ORIGIN_ANSWERS.find(({ code }) => ImgcacheError.is(error, code));
  return answer ? { status: answer.status, message: `${answer.prefix}: ${(error as Error).message}` } : null;
}

/** undici's codes for a connection, its headers or its body taking too long. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The error for an origin request that failed before its response: a timeout (504) or an unreachable origin (502). */
export function originFailure(method: string, url: string, error: unknown): OriginError | OriginTimeoutError {
  const message = `origin request ${method} ${url} failed: ${(error as Error).message}`;
  const code = (error as { code?: string }).code;
  return code !== undefined && TIMEOUT_CODES.has(code)
    ? new OriginTimeoutError(message, { cause: error })
    : new OriginError(message, { cause: error });
}
