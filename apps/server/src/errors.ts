/**
 * A server setting that cannot work. The message names the flag, or the environment
 * variable when the value came from there, and says what is accepted.
 */
export class ConfigError extends Error {
  readonly code = 'ERR_IMGCACHE_SERVER_CONFIG';

  constructor(
    /** The flag without its dashes, e.g. `log-level`. */
    readonly option: string,
    /** Why the value is refused, without the setting's name. */
    readonly reason: string,
    /** The environment variable the value came from, when it did. */
    readonly env?: string,
  ) {
    super(env ? `Invalid ${env} (the environment variable for --${option}): ${reason}.` : `Invalid --${option}: ${reason}.`);
    this.name = 'ConfigError';
  }
}

/** The origin could not be reached or broke off; answered with 502. */
export class OriginError extends Error {
  readonly code = 'ERR_IMGCACHE_ORIGIN';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OriginError';
  }
}

/** The origin did not connect, answer or send its next bytes in time; answered with 504. */
export class OriginTimeoutError extends Error {
  readonly code = 'ERR_IMGCACHE_ORIGIN_TIMEOUT';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OriginTimeoutError';
  }
}
