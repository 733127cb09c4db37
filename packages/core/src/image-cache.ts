import { createReadStream, open as openCallback } from 'node:fs';
import { promisify } from 'node:util';
import { mkdir, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { assertChecksumAlgorithm, parseChecksum, type ChecksumAlgorithm } from './checksum.js';
import { nextTimestamp } from './clock.js';
import type { CacheEntry, Driver } from './driver.js';
import { CacheClosedError, FillAbortedError, InvalidOptionError, NotCachedError } from './errors.js';
import { isClaimed, withLock } from './claims.js';
import { cleanDirectories, type CleanResult } from './clean.js';
import { Fill } from './fill.js';
import { teeIntoFill, type ImageSource } from './fill-stream.js';
import { followFill } from './follow-fill.js';
import { assertValidImageId } from './image-id.js';
import { errnoCode, removeFile } from './io/fs-errors.js';
import { CacheLayout } from './layout.js';
import { loadDriver, type DriverSpec, type Importer } from './load-driver.js';
import { stderrLogger, type Logger } from './logger.js';
import { evict, planPrune, type PruneResult } from './prune.js';
import { PrefetchQueue } from './queue.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { verifyImages, type VerifyResult } from './verify.js';

export type { CleanResult } from './clean.js';
export type { VerifyFailure, VerifyResult } from './verify.js';

export interface ImageCacheOptions {
  /** Cache root directory; created if missing. */
  dir: string;
  /** `sqlite` (default), `xattr`, a driver package name, a factory or a driver object. */
  driver?: DriverSpec;
  /** Options handed to the driver factory. */
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

const DEFAULT_MAX_SIZE = 10 * 1024 ** 3;
const DEFAULT_STALL_TIME = 86_400;
const READ_CHUNK = 1024 * 1024;
const openFd = promisify(openCallback);

/**
 * An LRU disk cache of image files. Open one with {@link ImageCache.open}.
 *
 * Single-flight: within a process at most one fill per image runs at a time; a second
 * `getCachingIter` for the same image gets its source passed through uncached, and a
 * second `cacheImageIter` resolves false. Across processes, a writer that finds another
 * live writer's claim on the image backs off the same way.
 */
export class ImageCache {
  readonly layout: CacheLayout;
  readonly maxSize: number;
  readonly stallTime: number;
  readonly checksumAlgorithm: ChecksumAlgorithm;
  /** What startup reconcile found and repaired. */
  readonly reconcileReport: ReconcileReport;

  private readonly queue: PrefetchQueue;
  private readonly fills = new Map<string, FillSlot>();
  private readonly readers = new Map<string, number>();
  private closed = false;
  /** Serialises prunes so two of them never pick the same victims. */
  private pruning: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly driver: Driver,
    layout: CacheLayout,
    settings: { maxSize: number; stallTime: number; checksumAlgorithm: ChecksumAlgorithm },
    private readonly logger: Logger,
    report: ReconcileReport,
  ) {
    this.layout = layout;
    this.maxSize = settings.maxSize;
    this.stallTime = settings.stallTime;
    this.checksumAlgorithm = settings.checksumAlgorithm;
    this.queue = new PrefetchQueue(layout);
    this.reconcileReport = report;
  }

  /**
   * Creates the directory layout, loads the driver and reconciles disk with metadata.
   * @throws {InvalidOptionError} for unusable options.
   * @throws {DriverNotFoundError | DriverConfigError} when the driver is unusable and fallback is off.
   * @throws {DriverLoadError | DriverContractError} when the driver is installed but broken.
   */
  static async open(options: ImageCacheOptions): Promise<ImageCache> {
    const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
    const stallTime = options.stallTime ?? DEFAULT_STALL_TIME;
    const checksumAlgorithm = options.checksumAlgorithm ?? 'sha256';
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw new InvalidOptionError('dir', 'a cache directory is required');
    if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw new InvalidOptionError('maxSize', 'must be a whole number of bytes, 0 or more');
    if (!Number.isFinite(stallTime) || stallTime < 0) throw new InvalidOptionError('stallTime', 'must be a number of seconds, 0 or more');
    assertChecksumAlgorithm(checksumAlgorithm);
    const logger = options.logger ?? stderrLogger;
    const layout = new CacheLayout(options.dir);
    for (const directory of layout.directories) await mkdir(directory, { recursive: true });
    const { driver } = await loadDriver({
      spec: options.driver ?? 'sqlite',
      fallback: options.fallback ?? true,
      importer: options.importer,
      resolveFrom: options.resolveFrom,
      context: {
        root: layout.root,
        imagesDir: layout.imagesDir,
        imagePath: (imageId) => layout.imagePath(imageId),
        nodeId: options.nodeId ?? hostname(),
        logger,
        options: options.driverOptions ?? {},
      },
    });
    try {
      const report = await reconcile(layout, driver, checksumAlgorithm, logger);
      return new ImageCache(driver, layout, { maxSize, stallTime, checksumAlgorithm }, logger, report);
    } catch (error) {
      await driver.close().catch(() => undefined);
      throw error;
    }
  }

  /** Name of the driver in use (after any fallback). */
  get driverName(): string {
    return this.driver.name;
  }

  async isCached(imageId: string): Promise<boolean> {
    return (await this.entry(imageId)) !== null;
  }

  async isQueued(imageId: string): Promise<boolean> {
    this.assertUsable(imageId);
    return this.queue.has(imageId);
  }

  /** Not cached and not being written by anyone. */
  async isCacheable(imageId: string): Promise<boolean> {
    return !(await this.isCached(imageId)) && !(await this.isBeingCached(imageId));
  }

  /** True while a write of this image is in progress in this or another live process. */
  async isBeingCached(imageId: string): Promise<boolean> {
    this.assertUsable(imageId);
    return this.fills.has(imageId) || isClaimed(this.layout, imageId);
  }

  /** True while this process is caching the image (a follower can join it with {@link followFill}). */
  isFilling(imageId: string): boolean {
    this.assertUsable(imageId);
    return this.fills.has(imageId);
  }

  /**
   * Streams an image that this process is caching right now, from its first byte, as the
   * bytes reach the disk: many readers share one origin download, each at its own pace.
   * Ends once the fill has committed and all bytes were read; throws the fill's error if
   * it fails (never a silently short stream). Returns null when no fill of it runs here.
   */
  followFill(imageId: string, options: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> | null {
    this.assertUsable(imageId);
    const slot = this.fills.get(imageId);
    if (!slot) return null;
    const { layout } = this;
    return (async function* () {
      const fill = await slot.claimed;
      if (!fill) throw new FillAbortedError(imageId);
      yield* followFill(fill, layout, options.signal);
    })();
  }

  /** Total bytes of committed images. */
  async getCacheSize(): Promise<number> {
    this.assertOpen();
    return (await this.driver.stats()).totalSize;
  }

  /** Count, bytes and hits of committed images. */
  async getStats(): Promise<{ count: number; totalSize: number; totalHits: number }> {
    this.assertOpen();
    return this.driver.stats();
  }

  async getHitCount(imageId: string): Promise<number> {
    return (await this.entry(imageId))?.hits ?? 0;
  }

  /** Size of a cached image, or null when it is not cached. */
  async getImageSize(imageId: string): Promise<number | null> {
    return (await this.entry(imageId))?.size ?? null;
  }

  /** Every cached image, ordered by id. */
  async getCachedImages(): Promise<CachedImage[]> {
    this.assertOpen();
    return (await this.driver.list()).map(toCachedImage);
  }

  /** The cached image's metadata, or null. */
  async getCachedImage(imageId: string): Promise<CachedImage | null> {
    const entry = await this.entry(imageId);
    return entry ? toCachedImage(entry) : null;
  }

  /** Queued image ids, oldest first. */
  async getQueuedImages(): Promise<string[]> {
    this.assertOpen();
    return this.queue.list();
  }

  /** Queues an image for prefetching. @returns false if it is already cached, being cached or queued. */
  async queueImage(imageId: string): Promise<boolean> {
    if (!(await this.isCacheable(imageId))) return false;
    return this.queue.add(imageId);
  }

  async deleteQueuedImage(imageId: string): Promise<boolean> {
    this.assertUsable(imageId);
    return this.queue.remove(imageId);
  }

  async deleteAllQueuedImages(): Promise<number> {
    this.assertOpen();
    return this.queue.clear();
  }

  /**
   * Removes a cached image and cancels an in-flight fill of it in this process, so a
   * deleted image is not re-cached by a download that was already running. An image that
   * another process is writing at this moment is left to it (its commit would otherwise
   * record a file that is gone).
   * @returns true when an image was removed.
   */
  async deleteCachedImage(imageId: string): Promise<boolean> {
    this.assertUsable(imageId);
    await this.cancelFill(imageId);
    const outcome = await withLock(this.layout, imageId, async () => {
      const removedFile = await removeFile(this.layout.imagePath(imageId));
      const removedEntry = (await this.driver.remove([imageId])) > 0;
      return removedFile || removedEntry;
    });
    return outcome?.value ?? false;
  }

  /**
   * Removes every image cached when it starts and cancels in-flight fills. Images that
   * other processes commit meanwhile, or are writing at that moment, stay.
   * @returns how many images were removed.
   */
  async deleteAllCachedImages(): Promise<number> {
    this.assertOpen();
    await Promise.all([...this.fills.keys()].map((imageId) => this.cancelFill(imageId)));
    return (await evict(this.layout, this.driver, await this.driver.list())).files;
  }

  /**
   * Evicts least-recently-used images until the cache fits in `maxSize`.
   * Images open for reading are evicted last; their readers keep their bytes.
   */
  async prune(maxSize: number = this.maxSize): Promise<PruneResult> {
    this.assertOpen();
    const run = this.pruning.then(async () => {
      const victims = await planPrune({ driver: this.driver, maxSize, inUse: (imageId) => this.readers.has(imageId) });
      return evict(this.layout, this.driver, victims);
    });
    this.pruning = run.catch(() => undefined);
    return run;
  }

  /** The images prune() would evict now, without evicting them. */
  async planPrune(maxSize: number = this.maxSize): Promise<{ imageId: string; size: number }[]> {
    this.assertOpen();
    const victims = await planPrune({ driver: this.driver, maxSize, inUse: (imageId) => this.readers.has(imageId) });
    return victims.map(({ imageId, size }) => ({ imageId, size }));
  }

  /**
   * Deletes everything in `invalid/`, leftovers of processes that are gone, and writes of
   * other live processes that have not changed for `stallTime` seconds. Writes and locks of
   * this process, and locks of any live process (a commit or a maintenance step in
   * progress), are never touched, whatever the stall time.
   * @throws {InvalidOptionError} for a negative or non-finite stall time.
   */
  async clean(stallTime: number = this.stallTime): Promise<CleanResult> {
    this.assertOpen();
    if (!Number.isFinite(stallTime) || stallTime < 0) throw new InvalidOptionError('stallTime', 'must be a number of seconds, 0 or more');
    return cleanDirectories(this.layout, stallTime);
  }

  /**
   * Wraps a source so that consuming it also caches it (verified against `checksum`, a bare
   * md5 or `algorithm:hex`). When the image is not cacheable (cached, or being cached) the
   * source is passed through untouched. Source errors, aborts and mismatches reach the
   * consumer; a local write failure only stops caching.
   * @throws {InvalidImageIdError | InvalidChecksumError} synchronously, before anything is read.
   */
  getCachingIter(imageId: string, checksum: string | null | undefined, source: ImageSource, options: FillOptions = {}): AsyncIterable<Uint8Array> {
    this.assertUsable(imageId);
    const expected = checksum ? parseChecksum(checksum) : undefined;
    return this.runFill(imageId, source, { expected, strict: false, ...options });
  }

  /**
   * Caches an image from a source.
   * @returns true when the image is cached afterwards, false when it was not cacheable.
   * @throws {ChecksumMismatchError | SizeMismatchError | FillAbortedError} or the source's error; nothing is cached then.
   */
  async cacheImageIter(imageId: string, source: ImageSource, checksum?: string | null, options: FillOptions = {}): Promise<boolean> {
    this.assertUsable(imageId);
    const expected = checksum ? parseChecksum(checksum) : undefined;
    let cached = false;
    for await (const _chunk of this.runFill(imageId, source, { expected, strict: true, ...options, onCommit: () => (cached = true) })) {
      // Draining is the work: the fill writes as it yields.
    }
    return cached;
  }

  /** Caches an image from a local file. @returns as {@link cacheImageIter}. */
  async cacheImageFile(imageId: string, path: string, checksum?: string | null, options: FillOptions = {}): Promise<boolean> {
    this.assertUsable(imageId);
    const handle = await open(path, 'r');
    const size = (await handle.stat()).size;
    const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
    try {
      return await this.cacheImageIter(imageId, stream, checksum, { expectedSize: size, ...options });
    } finally {
      stream.destroy();
    }
  }

  /**
   * Opens a cached image for streaming. The file is opened before this resolves, so a
   * concurrent prune or delete cannot take the bytes away from this reader. Reading to the
   * end records a hit and the access time.
   * @throws {NotCachedError} when the image is not cached.
   */
  async openForRead(imageId: string, options: ReadOptions = {}): Promise<Readable> {
    const entry = await this.entry(imageId);
    if (!entry) throw new NotCachedError(imageId);
    let fd: number;
    try {
      fd = await openFd(this.layout.imagePath(imageId), 'r');
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
      await this.driver.remove([imageId]);
      throw new NotCachedError(imageId, { cause: error });
    }
    this.readers.set(imageId, (this.readers.get(imageId) ?? 0) + 1);
    // Small images get a buffer their size: a 1 MiB buffer per 4 KiB read costs more than the read.
    const highWaterMark = Math.max(64 * 1024, Math.min(READ_CHUNK, entry.size));
    // A numeric descriptor with fs.createReadStream is measurably faster per request than
    // FileHandle.createReadStream; the stream closes the descriptor when it ends or is destroyed.
    const stream = createReadStream('', { fd, highWaterMark, start: options.start, end: options.end, autoClose: true });
    stream.once('end', () => {
      if (this.closed) return;
      this.driver.recordHit(imageId, nextTimestamp()).catch((error: unknown) => {
        this.logger.warn({ imageId, err: String(error) }, 'could not record a cache hit');
      });
    });
    stream.once('close', () => {
      const count = (this.readers.get(imageId) ?? 1) - 1;
      if (count > 0) this.readers.set(imageId, count);
      else this.readers.delete(imageId);
    });
    return stream;
  }

  /**
   * Re-hashes cached files against their recorded checksum and size. A file that is
   * missing, resized or corrupt is moved to `invalid/` and its entry dropped; a full run
   * also moves aside files without metadata. Images another process is committing are
   * never touched (see verify.ts).
   * @throws {InvalidImageIdError} for an invalid id, before anything is checked.
   */
  async verify(imageIds?: readonly string[]): Promise<VerifyResult> {
    this.assertOpen();
    imageIds?.forEach((imageId) => assertValidImageId(imageId));
    const context = { layout: this.layout, driver: this.driver, logger: this.logger, isFilling: (imageId: string) => this.fills.has(imageId) };
    return verifyImages(context, imageIds);
  }

  /** Aborts in-flight fills, waits for them to clean up, and closes the driver. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.fills.keys()].map((imageId) => this.cancelFill(imageId)));
    this.closed = true;
    await this.driver.close();
  }

  private async *runFill(
    imageId: string,
    source: ImageSource,
    options: { expected: ReturnType<typeof parseChecksum> | undefined; strict: boolean; onCommit?: () => void } & FillOptions,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    this.assertOpen();
    // Reserved synchronously on the first pull, so a second caller in this process always sees it.
    if (this.fills.has(imageId)) return yield* passThrough(source, options.strict);
    let announce!: (fill: Fill | null) => void;
    const slot: FillSlot = { cancelled: false, claimed: new Promise((resolve) => (announce = resolve)) };
    this.fills.set(imageId, slot);
    let fill: Fill | null = null;
    try {
      if (options.signal?.aborted) throw new FillAbortedError(imageId, { cause: options.signal.reason });
      fill = (await this.entry(imageId))
        ? null
        : await Fill.claim({ layout: this.layout, driver: this.driver, algorithm: this.checksumAlgorithm }, imageId, {
            checksum: options.expected,
            size: options.expectedSize,
          });
      announce(fill);
      if (!fill) return yield* passThrough(source, options.strict);
      slot.fill = fill;
      if (slot.cancelled) await fill.cancel();
      const { strict, signal, onCommit } = options;
      yield* teeIntoFill(fill, source, { strict, signal, logger: this.logger, onCommit });
    } finally {
      announce(fill);
      if (this.fills.get(imageId) === slot) this.fills.delete(imageId);
    }
  }

  /** Stops this process's fill of an image and waits for a commit already under way. */
  private async cancelFill(imageId: string): Promise<void> {
    const slot = this.fills.get(imageId);
    if (!slot) return;
    slot.cancelled = true;
    await slot.fill?.cancel();
    await slot.fill?.settledCommit();
  }

  private async entry(imageId: string): Promise<CacheEntry | null> {
    this.assertUsable(imageId);
    return this.driver.get(imageId);
  }

  private assertUsable(imageId: string): void {
    assertValidImageId(imageId);
    this.assertOpen();
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }
}

interface FillSlot {
  fill?: Fill;
  /** Resolves with the fill once claimed, or null when this process does not write the image. */
  claimed: Promise<Fill | null>;
  /** Set when the fill was cancelled before its claim finished. */
  cancelled: boolean;
}

/** For a non-cacheable image: the consumer still gets the bytes (strict callers get nothing to do). */
async function* passThrough(source: ImageSource, strict: boolean): AsyncGenerator<Uint8Array, void, undefined> {
  if (strict) return;
  yield* source;
}

function toCachedImage(entry: CacheEntry): CachedImage {
  return {
    imageId: entry.imageId,
    size: entry.size,
    hits: entry.hits,
    lastAccessed: new Date(entry.lastAccessed),
    lastModified: new Date(entry.lastModified),
    checksum: entry.checksum,
  };
}
