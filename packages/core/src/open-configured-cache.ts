import { stat } from 'node:fs/promises';
import type { ChecksumAlgorithm } from './checksum.js';
import { rememberBudget } from './budget-file.js';
import { ImageCache } from './image-cache.js';
import { CacheLayout } from './layout.js';
import type { Importer } from './load-driver.js';
import type { Logger } from './logger.js';

/** The settings both apps open a cache with, resolved from flags, environment, config file and defaults. */
export interface CacheSettings {
  dir: string;
  /** `sqlite`, `xattr` or a driver package name. */
  driver: string;
  /** Budget in bytes. */
  maxSize: number;
  /** Seconds after which an unfinished write counts as stalled. */
  stallTime: number;
  checksumAlgorithm: ChecksumAlgorithm;
}

export interface OpenConfiguredCacheOptions {
  /** How driver packages are imported: pass `(s) => import(s)` so they resolve from the app. */
  importer: Importer;
  logger: Logger;
  /**
   * When `settings.maxSize` becomes the directory's remembered budget (see budget-file.ts):
   * `always` (a server: its current budget is the directory's), or `at-creation` (a tool
   * that only visits: only when this open creates the cache).
   */
  rememberBudget: 'always' | 'at-creation';
  /** The program opening the cache, recorded with the budget, e.g. `imgcache-server 0.1.0`. */
  program: string;
}

/**
 * Opens a cache from resolved settings, the one way both apps do it, and records the budget
 * in the directory as `options.rememberBudget` says. A budget that cannot be recorded is a
 * warning, not a failure: the cache itself works.
 * @throws what {@link ImageCache.open} throws.
 */
export async function openConfiguredCache(
  settings: CacheSettings,
  options: OpenConfiguredCacheOptions,
): Promise<ImageCache> {
  const layout = new CacheLayout(settings.dir);
  // A cache exists once its images directory does; an empty directory (systemd's
  // CacheDirectory=, a fresh volume) is still to be created.
  const creating =
    options.rememberBudget === 'at-creation' &&
    !(await stat(layout.imagesDir).then(
      () => true,
      () => false,
    ));
  const cache = await ImageCache.open({ ...settings, importer: options.importer, logger: options.logger });
  if (options.rememberBudget === 'always' || creating) {
    await rememberBudget(layout.root, settings.maxSize, options.program).catch((error: unknown) => {
      options.logger.warn(
        { err: (error as Error).message, dir: layout.root },
        'could not record the cache budget in the directory',
      );
    });
  }
  return cache;
}
