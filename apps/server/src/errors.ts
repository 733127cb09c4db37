/** A server setting that cannot work; the message names the flag and how to fix it. */
export class ConfigError extends Error {
  readonly code = 'ERR_IMGCACHE_SERVER_CONFIG';

  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`Invalid --${option}: ${reason}.`);
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
