#!/usr/bin/env node
import { ImgcacheError } from '@imgcache/core';
import { CommanderError } from 'commander';
import { parseArguments } from './cli-options.js';
import type { ServerConfig } from './config.js';
import { startServer } from './server.js';
import { handleSignals } from './signals.js';

/** Commander's "errors" that are really successful exits. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** Starts the server from the command line; see signals.ts for SIGTERM, SIGINT and SIGHUP. */
async function main(): Promise<void> {
  const signals = handleSignals();
  let config: ServerConfig;
  try {
    config = parseArguments(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CommanderError) {
      if (CLEAN_EXITS.has(error.code)) process.exit(0);
      process.stderr.write(
        `imgcache-server: ${error.message.replace(/^error: /, '')}\nRun imgcache-server --help for the flags.\n`,
      );
      process.exit(2);
    }
    // A bad setting, or a config file that cannot be read or parsed: a usage error, as in the CLI.
    if (ImgcacheError.is(error, 'ERR_IMGCACHE_SERVER_CONFIG') || ImgcacheError.is(error, 'ERR_IMGCACHE_CONFIG_FILE')) {
      process.stderr.write(`imgcache-server: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  signals.attach(await startServer(config));
}

main().catch((error: unknown) => {
  process.stderr.write(`imgcache-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
