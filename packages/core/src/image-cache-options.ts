import { hostname } from 'node:os';
import { assertChecksumAlgorithm, type ChecksumAlgorithm } from './checksum.js';
import type { CacheEntry } from './driver.js';
import { InvalidOptionError } from './errors.js';
import type { DriverSpec, Importer } from './load-driver.js';
import { stderrLogger, type Logger } from './logger.js';
import type { OpenFilesOptions } from './open-files.js';

export interface ImageCacheOptions {
  /** Cache root directory; created if missing. */
  dir: string;
  /** `sqlite` (default), `xattr`, a driver package name, a factory or a driver object. */
  driver?: DriverSpec;
  /** Options of a driver named by package, handed to its `create<Name>Driver(options)`; refused with a factory or object. */
  driverOptions?: Record<string, unknown>;
  /** Budget in bytes that prune() enforces. Default 10 GiB. */
  maxSize?: number;
  /** Seconds after which an unfinished write counts as stalled for clean(). Default 86400. */
  stallTime?: number;
  /** Digest recorded for every image. Default sha256. */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Fall back to SQLite when the driver is missing or unusable here. Default true. */
  fallback?: boolean;
  logger?: Logger;
  /** How to import driver packages; pass `(s) => import(s)` so they resolve from your app. */
  importer?: Importer;
  /** A file or URL of your application to resolve driver packages from. */
  resolveFrom?: string | URL;
  /** This node's identity for drivers that share a store between machines. Default: the hostname. */
  nodeId?: string;
  /** Limits of the cache of open descriptors and of small images kept in memory. */
  openFiles?: OpenFilesOptions;
  /** Milliseconds hits are gathered before they are written to the driver (the most a crash loses). Default 1000. */
  hitFlushInterval?: number;
}

/** A cached image as listed by {@link ImageCache.getCachedImages}. */
export interface CachedImage {
  imageId: string;
  size: number;
  hits: number;
  lastAccessed: Date;
  lastModified: Date;
  checksum: string;
}

/** Per-fill options of the caching calls. */
export interface FillOptions {
  /** Bytes the source must deliver; a different count fails with SizeMismatchError. */
  expectedSize?: number;
  /** Aborting stops the fill; nothing is cached. */
  signal?: AbortSignal;
}

export interface ReadOptions {
  /** First byte to read (inclusive). */
  start?: number;
  /** Last byte to read (inclusive). */
  end?: number;
}

/** Default budget: 10 GiB, as Glance's `image_cache_max_size`. */
const DEFAULT_MAX_SIZE = 10 * 1024 ** 3;
/** Default stall time: one day, as Glance's `image_cache_stall_time`. */
const DEFAULT_STALL_TIME = 86_400;

/** The options of {@link ImageCacheOptions} that the cache itself keeps, with defaults applied. */
export interface CacheSettings {
  maxSize: number;
  stallTime: number;
  checksumAlgorithm: ChecksumAlgorithm;
  logger: Logger;
  nodeId: string;
  openFiles?: OpenFilesOptions;
  hitFlushInterval?: number;
}

/**
 * Applies defaults and checks the options before anything touches the disk.
 * @throws {InvalidOptionError} for a missing directory, a negative or fractional budget, a
 *   negative stall time, or an unknown checksum algorithm.
 */
export function resolveSettings(options: ImageCacheOptions): CacheSettings {
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
  const stallTime = options.stallTime ?? DEFAULT_STALL_TIME;
  const checksumAlgorithm = options.checksumAlgorithm ?? 'sha256';
  if (typeof options.dir !== 'string' || options.dir.length === 0)
    throw new InvalidOptionError('dir', 'a cache directory is required');
  if (!Number.isSafeInteger(maxSize) || maxSize < 0)
    throw new InvalidOptionError('maxSize', 'must be a whole number of bytes, 0 or more');
  assertStallTime(stallTime);
  assertChecksumAlgorithm(checksumAlgorithm);
  return {
    maxSize,
    stallTime,
    checksumAlgorithm,
    logger: options.logger ?? stderrLogger,
    nodeId: options.nodeId ?? hostname(),
    openFiles: options.openFiles,
    hitFlushInterval: options.hitFlushInterval,
  };
}

/** @throws {InvalidOptionError} unless `stallTime` is a finite number of seconds, 0 or more. */
export function assertStallTime(stallTime: number): void {
  if (!Number.isFinite(stallTime) || stallTime < 0)
    throw new InvalidOptionError('stallTime', 'must be a number of seconds, 0 or more');
}

/** The public view of a driver's entry (dates instead of epoch milliseconds). */
export function toCachedImage(entry: CacheEntry): CachedImage {
  return {
    imageId: entry.imageId,
    size: entry.size,
    hits: entry.hits,
    lastAccessed: new Date(entry.lastAccessed),
    lastModified: new Date(entry.lastModified),
    checksum: entry.checksum,
  };
}
