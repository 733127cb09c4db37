import { ImageCache, type Logger } from '@imgcache/core';
import type { Command } from 'commander';
import { resolveConfig, type CacheConfig } from './config.js';
import { createCliLogger } from './logger.js';
import { Output } from './output.js';

/** The global options every command understands (see program.ts). */
export interface GlobalOptions {
  dir?: string;
  driver?: string;
  maxSize?: number;
  stallTime?: number;
  checksumAlgorithm?: CacheConfig['checksumAlgorithm'];
  config?: string;
  json?: boolean;
  verbose?: boolean;
  debug?: boolean;
}

/** What a command needs besides its own arguments. */
export interface CommandContext {
  config: CacheConfig;
  out: Output;
  logger: Logger;
  verbose: boolean;
  json: boolean;
}

/**
 * Builds the context from the global options of the command being run.
 * @throws {UsageError} for a bad config file or environment value.
 */
export async function contextFor(command: Command): Promise<CommandContext> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const verbose = options.verbose ?? false;
  const json = options.json ?? false;
  const config = await resolveConfig(options);
  return { config, out: new Output(json, verbose), logger: createCliLogger({ verbose }), verbose, json };
}

/**
 * Opens the cache with the resolved settings, runs `work`, and always closes the cache.
 * Driver packages are imported from the CLI's own dependencies, so `--driver xattr`
 * finds the xattr driver; core falls back to SQLite (with a warning) when it is unusable.
 */
export async function withCache<T>(context: CommandContext, work: (cache: ImageCache) => Promise<T>): Promise<T> {
  const { config, logger } = context;
  const cache = await ImageCache.open({
    dir: config.dir,
    driver: config.driver,
    maxSize: config.maxSize,
    stallTime: config.stallTime,
    checksumAlgorithm: config.checksumAlgorithm,
    importer: (specifier) => import(specifier),
    logger,
  });
  try {
    logger.debug({ dir: cache.layout.root, driver: cache.driverName }, 'opened cache');
    const report = cache.reconcileReport;
    if (report.abandonedWrites + report.droppedEntries + report.adoptedFiles + report.quarantinedFiles > 0) {
      logger.info(report, 'startup reconcile repaired the cache directory');
    }
    return await work(cache);
  } finally {
    await cache.close();
  }
}
