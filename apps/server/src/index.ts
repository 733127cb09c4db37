export { startServer } from './server.js';
export type { CreateServerOptions, ImageServer } from './server.js';
export type { RetryPolicy } from './retry-schedule.js';
export { DEFAULTS } from './config.js';
export { parseMinFree, parseSize } from './flag-values.js';
export type { MinFree, ServerConfig } from './config.js';
export { createCommand, parseArguments } from './cli-options.js';
export { ConfigError, OriginError, OriginResponseError, OriginTimeoutError } from './errors.js';
