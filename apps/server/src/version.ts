import { createRequire } from 'node:module';

/** This package's version, as `imgcache-server --version` prints it. */
export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
