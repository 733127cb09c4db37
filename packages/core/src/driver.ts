import type { Logger } from './logger.js';

/**
 * Version of the driver contract this core speaks. A driver states the version it was
 * built for in {@link Driver.contractVersion}; core refuses any other, so a driver written
 * for a future contract fails loudly instead of corrupting metadata.
 */
export const DRIVER_CONTRACT_VERSION = 1 as const;

/** Metadata of one committed image, as a driver stores it. Times are ms since the epoch. */
export interface CacheEntry {
  /** A valid image id (core validates before calling the driver). */
  imageId: string;
  /** Bytes of the committed file. */
  size: number;
  /** `algorithm:hex` of the committed file, e.g. `sha256:9f86…`. */
  checksum: string;
  /** Completed reads since the image was committed. */
  hits: number;
  /** Last completed read, or the commit time if never read. Millisecond precision. */
  lastAccessed: number;
  /** When the image's fill began (core announces it as the image's Last-Modified); set once per commit. */
  lastModified: number;
}

/** What core hands a driver when an image is committed. */
export interface NewCacheEntry {
  imageId: string;
  size: number;
  checksum: string;
  /** When the fill began, in ms (the adoption time for files reconcile adopts); the driver also uses it as the first `lastAccessed`. */
  lastModified: number;
}

/** Hits of one image gathered since the last flush. */
export interface HitBatch {
  imageId: string;
  /** Completed reads, 1 or more. */
  hits: number;
  /** Time of the latest of them, ms since the epoch. */
  accessedAt: number;
}

/** One step of the least-recently-used scan. */
export interface LruEntry {
  imageId: string;
  size: number;
  lastAccessed: number;
}

/** Totals over every entry of this node. */
export interface DriverStats {
  count: number;
  totalSize: number;
  totalHits: number;
}

/** What a driver factory receives. */
export interface DriverContext {
  /** Absolute cache root. A driver may keep its own files directly in it, never in the
   * `images/`, `incomplete/`, `invalid/` or `queue/` subdirectories, which core owns. */
  root: string;
  /** Absolute directory of committed image files (drivers that keep metadata on the files use it). */
  imagesDir: string;
  /** Path of a committed image's file. */
  imagePath(imageId: string): string;
  /** Identity of this cache node. Drivers that share a store between machines key rows by it;
   * single-node drivers may ignore it. */
  nodeId: string;
  logger: Logger;
  /** Driver-specific options passed through `ImageCache.open({ driverOptions })`. */
  options: Readonly<Record<string, unknown>>;
}

/**
 * Opens a driver for one cache directory. A driver package exports one as its default
 * export (and usually by name, e.g. `createSqliteDriver`).
 * @throws {DriverConfigError} when the driver cannot work here (core may then fall back to SQLite).
 */
export type DriverFactory = (context: DriverContext) => Promise<Driver>;

/**
 * A metadata store. Core owns the bytes (layout, streaming writes, checksums, the crash
 * protocol, queue files); a driver only records and answers questions about metadata.
 *
 * Rules every driver follows (the compliance suite checks them):
 * - Every method is async and safe to call concurrently from one process; two commits,
 *   hits or removals never lose each other's effect.
 * - Several processes may open the same cache root at once; a driver waits for locks
 *   instead of failing with a "busy" error.
 * - Times are integers in milliseconds; core supplies them and never repeats one within
 *   a process, so the driver must not round them.
 * - After `commit` resolves, the entry survives a process crash and `close`/reopen.
 */
export interface Driver {
  /** Short name shown to users, e.g. `sqlite`. */
  readonly name: string;
  /** Must equal {@link DRIVER_CONTRACT_VERSION} of the core that loads it. */
  readonly contractVersion: number;

  /** The entry of one image, or null. */
  get(imageId: string): Promise<CacheEntry | null>;

  /** Every entry, ordered by `imageId` (code-unit order). */
  list(): Promise<CacheEntry[]>;

  /** Count, total bytes and total hits, without listing entries. */
  stats(): Promise<DriverStats>;

  /**
   * Records a committed image. Replaces any existing entry of the same id, resetting
   * `hits` to 0 and `lastAccessed` to `lastModified`.
   */
  commit(entry: NewCacheEntry): Promise<void>;

  /**
   * Atomically adds one hit and sets `lastAccessed` to `accessedAt` (never moving it back).
   * @returns false when the image has no entry (the hit is dropped).
   */
  recordHit(imageId: string, accessedAt: number): Promise<boolean>;

  /**
   * Optional: records several hits at once (core batches hits and flushes them about once a
   * second). Each item adds `hits` to the entry and sets `lastAccessed` to `accessedAt`
   * (never moving it back); items of images without an entry are dropped. Without this
   * method core calls {@link recordHit} once per hit.
   */
  recordHits?(batch: readonly HitBatch[]): Promise<void>;

  /** Removes the entries of these ids; unknown ids are ignored. @returns how many were removed. */
  remove(imageIds: readonly string[]): Promise<number>;

  /** Removes every entry of this node. @returns how many were removed. */
  removeAll(): Promise<number>;

  /**
   * Entries from least to most recently accessed, ordered by `(lastAccessed, imageId)`.
   * Core removes entries while it iterates; the scan must tolerate that and must not
   * restart from the beginning (one ordered pass, not a query per victim).
   */
  leastRecentlyUsed(): AsyncIterable<LruEntry>;

  /** Releases resources. Core calls it once; no other call follows. */
  close(): Promise<void>;
}

const REQUIRED_METHODS = [
  'get',
  'list',
  'stats',
  'commit',
  'recordHit',
  'remove',
  'removeAll',
  'leastRecentlyUsed',
  'close',
] as const satisfies readonly (keyof Driver)[];

/** Names of the contract members `value` lacks, or of the version mismatch. Empty when it fits. */
export function driverContractProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['it is not an object'];
  const candidate = value as Partial<Record<keyof Driver, unknown>>;
  const problems: string[] = [];
  if (candidate.contractVersion !== DRIVER_CONTRACT_VERSION) {
    problems.push(
      `it was built for contract version ${String(candidate.contractVersion)}, this core speaks version ${DRIVER_CONTRACT_VERSION}`,
    );
  }
  if (typeof candidate.name !== 'string' || candidate.name.length === 0) problems.push('it has no name');
  for (const method of REQUIRED_METHODS) {
    if (typeof candidate[method] !== 'function') problems.push(`it has no ${method}() method`);
  }
  return problems;
}
