import type { Logger } from './logger.js';

/**
 * Version of the driver contract this core speaks. A driver states the version it was
 * built for in {@link Driver.contractVersion}; core refuses any other with
 * `DriverContractError`, so a driver written for another contract fails loudly instead of
 * corrupting metadata. Version 2: drivers are created by `create<Name>Driver(options)`,
 * the context carries no options, and drivers declare {@link DriverCapabilities}.
 */
export const DRIVER_CONTRACT_VERSION = 2 as const;

/** The literal type of {@link DRIVER_CONTRACT_VERSION}: a driver for another version does not type-check. */
export type DriverContractVersion = typeof DRIVER_CONTRACT_VERSION;

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
  /** Last completed read, or the commit time if never read. Integer ms since the epoch. */
  lastAccessed: number;
  /** When the image's fill began (core announces it as the image's Last-Modified); set once per commit. Integer ms since the epoch. */
  lastModified: number;
}

/** What core hands a driver when an image is committed. */
export interface NewCacheEntry {
  imageId: string;
  /** Bytes. */
  size: number;
  /** `algorithm:hex`. */
  checksum: string;
  /** When the fill began, integer ms since the epoch (the adoption time for files reconcile adopts); the driver also uses it as the first `lastAccessed`. */
  lastModified: number;
}

/** Hits of one image gathered since the last flush. */
export interface HitBatch {
  imageId: string;
  /** Completed reads, 1 or more. */
  hits: number;
  /** Time of the latest of them, integer ms since the epoch. */
  accessedAt: number;
}

/** One step of the least-recently-used scan. */
export interface LruEntry {
  imageId: string;
  /** Bytes. */
  size: number;
  /** Integer ms since the epoch. */
  lastAccessed: number;
}

/** Totals over every entry of this node. */
export interface DriverStats {
  /** Entries. */
  count: number;
  /** Bytes, the sum of the entries' sizes. */
  totalSize: number;
  /** Sum of the entries' hits. */
  totalHits: number;
}

/**
 * What a driver can do beyond the rules every driver follows. Core does not enforce them;
 * they tell users (and the compliance suite, which skips the checks a driver does not claim)
 * where the driver may be used.
 */
export interface DriverCapabilities {
  /**
   * Several processes (a server and a CLI, several server workers) may open one cache root
   * at once: each sees the others' commits and removals, none is lost, and no call fails
   * with a "busy" error (the driver waits for locks). False: one process per root.
   */
  readonly multiProcess: boolean;
  /**
   * With `multiProcess`: hits that several processes record on one image at the same time
   * are all counted. False: across processes a concurrent hit may be lost (it only makes
   * the image look a little older to prune); within one process hits are never lost.
   */
  readonly multiProcessHits: boolean;
}

/** What a driver factory receives from core when a cache opens. */
export interface DriverContext {
  /** Absolute cache root. A driver may keep its own files directly in it, never in the
   * directories core owns ({@link CORE_DIRECTORY_NAMES}: `images/`, `incomplete/`,
   * `invalid/`, `queue/`). */
  root: string;
  /** Absolute directory of committed image files (drivers that keep metadata on the files use it). */
  imagesDir: string;
  /** Path of a committed image's file. @throws {InvalidImageIdError} for an invalid id. */
  imagePath(imageId: string): string;
  /** Identity of this cache node (default: the hostname). Drivers that share a store between
   * machines key rows by it; single-node drivers may ignore it. */
  nodeId: string;
  logger: Logger;
}

/**
 * Opens a driver for one cache directory. Made by a driver package's
 * `create<Name>Driver(options)`, which has already checked the options.
 * @throws {DriverConfigError} when the driver cannot work in this place and another driver
 *   would (an unsupported filesystem): core then falls back to SQLite, with a warning,
 *   unless `fallback` is false.
 * @throws {DriverStoreError} (or any other error) when the driver's store exists but cannot
 *   be used (corrupt, unreadable, from a newer version): core never falls back from it.
 */
export type DriverFactory<D extends Driver = Driver> = (context: DriverContext) => Promise<D>;

/**
 * The one shape of what a driver package exports, by name (`createSqliteDriver`) and as its
 * default export: it checks `options` and returns the factory core calls. Core's loader
 * calls the default export with `ImageCache.open({ driverOptions })`, or with nothing.
 * @throws {InvalidOptionError | DriverConfigError} for options it cannot use (before any I/O).
 */
export type CreateDriver<Options extends object = Record<string, never>, D extends Driver = Driver> = (
  options?: Options,
) => DriverFactory<D>;

/**
 * A metadata store. Core owns the bytes (layout, streaming writes, checksums, the crash
 * protocol, queue files); a driver only records and answers questions about metadata.
 *
 * Rules every driver follows (the compliance suite checks them):
 * - Every method is async and safe to call concurrently from one process; two commits,
 *   hits or removals never lose each other's effect. Two instances opened on one root in
 *   one process see each other's changes.
 * - Several processes on one root: only as {@link DriverCapabilities} declares.
 * - Times are integers in milliseconds since the epoch; core supplies them and never repeats
 *   one within a process, so the driver must not round them.
 * - After `commit`, `remove` or `removeAll` resolves, the change survives a process crash
 *   and `close`/reopen. Hits may be lost in a crash (core batches them anyway).
 * - Image ids are valid (core checks them before any call), but are chosen by users.
 *
 * What core does when a method rejects is stated on each member. Errors should extend
 * `ImgcacheError` or carry a message that says how to fix the problem.
 */
export interface Driver {
  /** Short name shown to users (`cache.driverName`), e.g. `sqlite`. */
  readonly name: string;
  /** Must equal {@link DRIVER_CONTRACT_VERSION} of the core that loads it. */
  readonly contractVersion: DriverContractVersion;
  /** What the driver supports beyond the common rules. */
  readonly capabilities: DriverCapabilities;

  /**
   * The entry of one image, or null.
   * On rejection: the cache call that asked (`isCached`, `getImageSize`, `openForRead`, a
   * fill deciding whether the image is cacheable) rejects with the driver's error.
   */
  get(imageId: string): Promise<CacheEntry | null>;

  /**
   * Every entry, ordered by `imageId` (code-unit order).
   * On rejection: `getCachedImages`, `deleteAllCachedImages` and `verify` reject; during
   * startup reconcile, `ImageCache.open` rejects (and closes the driver).
   */
  list(): Promise<CacheEntry[]>;

  /**
   * Count, total bytes and total hits, without listing entries.
   * On rejection: `getCacheSize`, `getStats` and `prune` reject.
   */
  stats(): Promise<DriverStats>;

  /**
   * Records a committed image. Replaces any existing entry of the same id, resetting
   * `hits` to 0 and `lastAccessed` to `lastModified`. Durable once it resolves.
   * On rejection during a fill: core unlinks the file it had just placed in `images/`,
   * releases the image's claim and logs a warning; readers already streaming the fill get
   * every byte, `cacheImageIter` rejects with this error and the image is not cached. During
   * startup reconcile (adopting a file without metadata), `ImageCache.open` rejects.
   */
  commit(entry: NewCacheEntry): Promise<void>;

  /**
   * Atomically adds one hit and sets `lastAccessed` to `accessedAt` (never moving it back).
   * Core calls it only for a driver without {@link recordHits}, once per hit, when it
   * flushes its batch of hits.
   * @returns false when the image has no entry (the hit is dropped). Core ignores the value.
   * On rejection: core logs one warning per flush ("could not record cache hits") and drops
   * that flush's hits; readers never see the error (a lost hit only ages an image early).
   */
  recordHit(imageId: string, accessedAt: number): Promise<boolean>;

  /**
   * Optional: records several hits at once. Core gathers hits in memory and flushes them every
   * `hitFlushInterval` ms (default 1000) and before anything reads hits or access times
   * (listing, stats, prune, close). Each item adds `hits` to the entry and sets
   * `lastAccessed` to `accessedAt` (never moving it back); items of images without an entry
   * are dropped. Without this method core calls {@link recordHit} once per hit.
   * On rejection: as for {@link recordHit}, the whole batch is logged and dropped.
   */
  recordHits?(batch: readonly HitBatch[]): Promise<void>;

  /**
   * Removes the entries of these ids; unknown ids are ignored. Core removes an image's file
   * first and its entry next, so a crash in between leaves an entry without a file, which
   * the next startup reconcile drops.
   * @returns how many entries were removed.
   * On rejection: the cache call (`deleteCachedImage`, `deleteAllCachedImages`, `prune`,
   * `verify`, a read that found a damaged file, `ImageCache.open`'s reconcile) rejects; the
   * files already removed stay removed and their entries are dropped by the next reconcile.
   */
  remove(imageIds: readonly string[]): Promise<number>;

  /**
   * Removes every entry of this node. Core itself does not call it (it removes files and
   * entries in batches under claims); tools that reset metadata do.
   * @returns how many entries were removed.
   */
  removeAll(): Promise<number>;

  /**
   * Entries from least to most recently accessed, ordered by `(lastAccessed, imageId)`.
   * Core removes entries while it iterates; the scan must tolerate that and must not
   * restart from the beginning (one ordered pass, not a query per victim). An entry removed
   * during the scan may still be yielded once if the driver read it before the removal.
   * On rejection (of any step): `prune` rejects; the victims removed so far stay removed.
   */
  leastRecentlyUsed(): AsyncIterable<LruEntry>;

  /**
   * Releases resources, after writing anything still pending. Core calls it once, after its
   * last hit flush; no other call follows.
   * On rejection: `ImageCache.close` rejects with the error (the cache is closed anyway).
   */
  close(): Promise<void>;
}
