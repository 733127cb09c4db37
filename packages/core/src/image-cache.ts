import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { assertChecksumAlgorithm, parseChecksum, type ChecksumAlgorithm } from './checksum.js';
import { nextTimestamp } from './clock.js';
import type { CacheEntry, Driver } from './driver.js';
import { CacheClosedError, FillAbortedError, InvalidOptionError, NotCachedError } from './errors.js';
import { isClaimed, withLock } from './claims.js';
import { cleanDirectories, type CleanResult } from './clean.js';
import { Fill, type ImageSource } from './fill.js';
import { FillRegistry, type FillOutcome, type FillSource, type FillStartResult } from './fill-registry.js';
import { HitRecorder } from './hit-recorder.js';
import { assertValidImageId } from './image-id.js';
import { ensureWritableDirectory } from './io/ensure-directory.js';
import { errnoCode, removeFile } from './io/fs-errors.js';
import { CacheLayout } from './layout.js';
import { OpenFiles, type OpenFilesOptions, type OpenImage } from './open-files.js';
import { checkDriverSpec, loadDriver, type DriverSpec, type Importer } from './load-driver.js';
import { stderrLogger, type Logger } from './logger.js';
import { evict, planPrune, type PruneResult } from './prune.js';
import { moveAside } from './quarantine.js';
import { PrefetchQueue } from './queue.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { describeRepair, type Repair } from './repairs.js';
import { verifyImages, type VerifyResult } from './verify.js';

export type { CleanResult } from './clean.js';
export type { VerifyFailure, VerifyResult } from './verify.js';

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

const DEFAULT_MAX_SIZE = 10 * 1024 ** 3;
const DEFAULT_STALL_TIME = 86_400;
const READ_CHUNK = 1024 * 1024;

/**
 * An LRU disk cache of image files. Open one with {@link ImageCache.open}.
 *
 * Single-flight: within a process at most one fill per image runs at a time, and any
 * number of readers stream it ({@link fill}); a second `getCachingIter` for the same image
 * gets its source passed through uncached, and a second `cacheImageIter` resolves false.
 * Across processes, a writer that finds another live writer's claim on the image backs off
 * the same way.
 */
export class ImageCache {
  readonly layout: CacheLayout;
  readonly maxSize: number;
  readonly stallTime: number;
  readonly checksumAlgorithm: ChecksumAlgorithm;
  /** What startup reconcile found and repaired. */
  readonly reconcileReport: ReconcileReport;

  private readonly queue: PrefetchQueue;
  private readonly fills: FillRegistry;
  private readonly openFiles: OpenFiles;
  private readonly hits: HitRecorder;
  private closed = false;
  /** Serialises prunes so two of them never pick the same victims. */
  private pruning: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly driver: Driver,
    layout: CacheLayout,
    settings: { maxSize: number; stallTime: number; checksumAlgorithm: ChecksumAlgorithm; openFiles?: OpenFilesOptions; hitFlushInterval?: number },
    private readonly logger: Logger,
    report: ReconcileReport,
  ) {
    this.layout = layout;
    this.maxSize = settings.maxSize;
    this.stallTime = settings.stallTime;
    this.checksumAlgorithm = settings.checksumAlgorithm;
    this.queue = new PrefetchQueue(layout);
    this.reconcileReport = report;
    this.openFiles = new OpenFiles(layout, settings.openFiles);
    this.hits = new HitRecorder(driver, logger, settings.hitFlushInterval);
    this.fills = new FillRegistry({
      isCached: async (imageId) => (await this.driver.get(imageId)) !== null,
      createFill: (imageId, source) => this.createFill(imageId, source),
    });
  }

  /**
   * Creates the directory layout, loads the driver and reconciles disk with metadata.
   * @throws {InvalidOptionError} for unusable options.
   * @throws {CacheDirectoryError} when a directory of the layout cannot be created or written (EROFS, EACCES…).
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
    // A malformed driver name, or options with a factory, is refused before the directory is created.
    checkDriverSpec(options.driver, options.driverOptions);
    const layout = new CacheLayout(options.dir);
    for (const directory of layout.directories) await ensureWritableDirectory(directory);
    const { driver } = await loadDriver({
      spec: options.driver ?? 'sqlite',
      fallback: options.fallback ?? true,
      importer: options.importer,
      resolveFrom: options.resolveFrom,
      driverOptions: options.driverOptions,
      context: {
        root: layout.root,
        imagesDir: layout.imagesDir,
        imagePath: (imageId) => layout.imagePath(imageId),
        nodeId: options.nodeId ?? hostname(),
        logger,
      },
    });
    try {
      const report = await reconcile(layout, driver, checksumAlgorithm, logger);
      const settings = { maxSize, stallTime, checksumAlgorithm, openFiles: options.openFiles, hitFlushInterval: options.hitFlushInterval };
      return new ImageCache(driver, layout, settings, logger, report);
    } catch (error) {
      await driver.close().catch(() => undefined);
      throw error;
    }
  }

  /** Name of the driver in use (after any fallback). */
  get driverName(): string {
    return this.driver.name;
  }

  /** True when the image is committed. A fill that is verified and being committed is waited for (milliseconds). */
  async isCached(imageId: string): Promise<boolean> {
    const fill = this.fills.get(imageId);
    if (fill?.isVerified) await fill.done.catch(() => null);
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

  /** True while this process starts or runs a fill of the image (see {@link fill}). */
  isFilling(imageId: string): boolean {
    this.assertUsable(imageId);
    return this.fills.has(imageId);
  }

  /** The fill of the image running in this process that new readers may join, if any. */
  getFill(imageId: string): Fill | undefined {
    this.assertUsable(imageId);
    return this.fills.get(imageId);
  }

  /** Every fill running in this process. */
  get activeFills(): Fill[] {
    return this.fills.fills;
  }

  /** Resolves once no fill starts or runs in this process (for a graceful shutdown). */
  fillsIdle(): Promise<void> {
    return this.fills.idle();
  }

  /**
   * Streams an image that this process is caching right now, from its first byte, as the
   * bytes arrive: many readers share one origin download, each at its own pace. Ends once
   * the fill is verified and all bytes were read; throws the fill's error if it fails
   * (never a silently short stream). Returns null when no fill of it runs here.
   */
  followFill(imageId: string, options: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> | null {
    this.assertUsable(imageId);
    return this.fills.follow(imageId, options);
  }

  /**
   * The single-flight primitive: joins this process's fill of the image, or, when there is
   * none and the image is not cached, calls `start` (only this caller's) and begins a fill
   * with the source it returns. Every concurrent caller gets one plain outcome; see
   * {@link FillOutcome}. A fill runs to its end whoever stops reading.
   * @throws {InvalidImageIdError | CacheClosedError} before anything runs; what `start` throws.
   */
  async fill<D>(imageId: string, start: () => Promise<FillStartResult<D>>, options: { join?: boolean } = {}): Promise<FillOutcome<D>> {
    this.assertUsable(imageId);
    return this.fills.begin(imageId, start, options);
  }

  /** Total bytes of committed images. */
  async getCacheSize(): Promise<number> {
    this.assertOpen();
    await this.settle();
    return (await this.driver.stats()).totalSize;
  }

  /** Count, bytes and hits of committed images. */
  async getStats(): Promise<{ count: number; totalSize: number; totalHits: number }> {
    this.assertOpen();
    await this.settle();
    return this.driver.stats();
  }

  async getHitCount(imageId: string): Promise<number> {
    await this.settle();
    return (await this.entry(imageId))?.hits ?? 0;
  }

  /** Size of a cached image, or null when it is not cached. */
  async getImageSize(imageId: string): Promise<number | null> {
    return (await this.entry(imageId))?.size ?? null;
  }

  /** Every cached image, ordered by id. */
  async getCachedImages(): Promise<CachedImage[]> {
    this.assertOpen();
    await this.settle();
    return (await this.driver.list()).map(toCachedImage);
  }

  /** The cached image's metadata, or null. */
  async getCachedImage(imageId: string): Promise<CachedImage | null> {
    await this.settle();
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
    await this.fills.cancel(imageId);
    this.hits.forget(imageId);
    this.openFiles.retire(imageId);
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
    await this.fills.cancelAll();
    const entries = await this.driver.list();
    const result = await evict(this.layout, this.driver, entries);
    for (const { imageId } of entries) this.openFiles.retire(imageId);
    return result.files;
  }

  /**
   * Evicts least-recently-used images until the cache fits in `maxSize`.
   * Images open for reading are evicted last; their readers keep their bytes.
   */
  async prune(maxSize: number = this.maxSize): Promise<PruneResult> {
    this.assertOpen();
    const run = this.pruning.then(async () => {
      await this.hits.flush();
      const victims = await planPrune({ driver: this.driver, maxSize, inUse: (imageId) => this.openFiles.inUse(imageId) });
      const result = await evict(this.layout, this.driver, victims);
      for (const { imageId } of victims) this.openFiles.retire(imageId);
      return result;
    });
    this.pruning = run.catch(() => undefined);
    return run;
  }

  /** The images prune() would evict now, without evicting them. */
  async planPrune(maxSize: number = this.maxSize): Promise<{ imageId: string; size: number }[]> {
    this.assertOpen();
    await this.hits.flush();
    const victims = await planPrune({ driver: this.driver, maxSize, inUse: (imageId) => this.openFiles.inUse(imageId) });
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
   * consumer; a local write failure only stops caching. A consumer that stops early stops
   * the fill.
   * @throws {InvalidImageIdError | InvalidChecksumError} synchronously, before anything is read.
   */
  getCachingIter(imageId: string, checksum: string | null | undefined, source: ImageSource, options: FillOptions = {}): AsyncIterable<Uint8Array> {
    this.assertUsable(imageId);
    if (checksum) parseChecksum(checksum);
    const cache = this;
    return (async function* () {
      const outcome = await cache.fill(imageId, async () => ({ source: { body: source, checksum, size: options.expectedSize, signal: options.signal } }), { join: false });
      if (outcome.kind !== 'joined') return yield* source;
      let finished = false;
      try {
        yield* outcome.fill.read({ signal: options.signal });
        // The consumer has every byte; its iteration ends once the image is committed.
        await outcome.fill.done;
        finished = true;
      } finally {
        if (!finished) await outcome.fill.abort();
      }
    })();
  }

  /**
   * Caches an image from a source.
   * @returns true when the image is cached afterwards, false when it was not cacheable.
   * @throws {ChecksumMismatchError | SizeMismatchError | FillAbortedError} or the source's
   * error, or the disk's error; nothing is cached then.
   */
  async cacheImageIter(imageId: string, source: ImageSource, checksum?: string | null, options: FillOptions = {}): Promise<boolean> {
    this.assertUsable(imageId);
    if (checksum) parseChecksum(checksum);
    const outcome = await this.fill(imageId, async () => ({ source: { body: source, checksum, size: options.expectedSize, signal: options.signal } }), { join: false });
    if (outcome.kind === 'pass' && outcome.reason === 'unavailable') throw outcome.error;
    if (outcome.kind !== 'joined') return false;
    const { fill } = outcome;
    const committed = await fill.done;
    if (committed) return true;
    if (fill.diskFailure) throw fill.diskFailure;
    return false;
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
   * Opens a committed image for serving: from the cache of open descriptors when it is
   * still valid, so a hit needs no metadata lookup. Release it with {@link releaseImage}.
   * A file that vanished or changed size behind the cache's back is dropped (and logged).
   * @returns null when the image is not cached.
   */
  async openImage(imageId: string): Promise<OpenImage | null> {
    this.assertUsable(imageId);
    const image = await this.openFiles.acquire(imageId, () => this.entry(imageId));
    if (image === null || typeof image === 'object') return image;
    await this.dropDamaged(imageId, image === 'missing' ? 'file is missing' : 'file size differs from its metadata');
    return null;
  }

  /** Ends a use of an image from {@link openImage}. */
  releaseImage(image: OpenImage): void {
    this.openFiles.release(image);
  }

  /** Counts a completed read of the image (hits reach the driver in batches). */
  recordHit(imageId: string): void {
    if (!this.closed) this.hits.record(imageId);
  }

  /**
   * Opens a cached image for streaming. The file is opened before this resolves, so a
   * concurrent prune or delete cannot take the bytes away from this reader. Reading to the
   * end records a hit and the access time. An image that is verified but still being
   * committed is read from its fill.
   * @throws {NotCachedError} when the image is not cached.
   */
  async openForRead(imageId: string, options: ReadOptions = {}): Promise<Readable> {
    const fill = this.getFill(imageId);
    if (fill?.isVerified) {
      const end = options.end === undefined ? undefined : options.end + 1;
      const stream = Readable.from(fill.read({ start: options.start ?? 0, end }), { objectMode: false });
      stream.once('end', () => this.recordHit(imageId));
      return stream;
    }
    const image = await this.openImage(imageId);
    if (!image) throw new NotCachedError(imageId);
    const size = image.entry.size;
    const start = options.start ?? 0;
    const end = Math.min(options.end ?? size - 1, size - 1);
    // Small images get a buffer their size: a 1 MiB buffer per 4 KiB read costs more than the read.
    const highWaterMark = Math.max(64 * 1024, Math.min(READ_CHUNK, size));
    // The descriptor is shared: every read is positional (start is always set), and the
    // stream must not close it.
    const stream =
      end < start
        ? Readable.from([], { objectMode: false })
        : image.bytes
          ? Readable.from([image.bytes.subarray(start, end + 1)], { objectMode: false })
          : createReadStream('', { fd: image.fd, highWaterMark, start, end, autoClose: false, emitClose: true });
    stream.once('end', () => this.recordHit(imageId));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.releaseImage(image);
    };
    stream.once('close', release);
    stream.once('end', release);
    stream.once('error', release);
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
    const context = {
      layout: this.layout,
      driver: this.driver,
      logger: this.logger,
      isFilling: (imageId: string) => this.fills.has(imageId),
      onDropped: (imageId: string) => this.forgetImage(imageId),
    };
    return verifyImages(context, imageIds);
  }

  /** Aborts in-flight fills, waits for them to clean up, and closes the driver. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.fills.abortAll();
    this.closed = true;
    await this.hits.flush();
    this.openFiles.close();
    await this.driver.close();
  }

  /**
   * Lets listings agree with {@link isCached}: waits for the commits of fills that are
   * already verified (milliseconds: fsync and one metadata write), and writes pending hits.
   */
  private async settle(): Promise<void> {
    await Promise.all(this.fills.fills.filter((fill) => fill.isVerified).map((fill) => fill.done.catch(() => null)));
    await this.hits.flush();
  }

  private async createFill(imageId: string, source: FillSource): Promise<Fill | null> {
    if (source.recordAlgorithm !== undefined) assertChecksumAlgorithm(source.recordAlgorithm);
    const context = {
      layout: this.layout,
      driver: this.driver,
      algorithm: source.recordAlgorithm ?? this.checksumAlgorithm,
      logger: this.logger,
      onCommitted: () => this.openFiles.retire(imageId),
    };
    const checksums = [source.checksum ?? []].flat().map((checksum) => parseChecksum(checksum));
    const expected = { checksums, size: source.size };
    return Fill.claim(context, imageId, expected, source.info);
  }

  /**
   * Drops the metadata of an image whose file is gone or damaged, moving a damaged file
   * aside. Done under the image's lock after a re-check: a writer in another process may be
   * replacing the file right now, and its commit puts the metadata right.
   */
  private async dropDamaged(imageId: string, reason: string): Promise<void> {
    this.forgetImage(imageId);
    await withLock(this.layout, imageId, async () => {
      const entry = await this.driver.get(imageId);
      const info = await stat(this.layout.imagePath(imageId)).catch(() => null);
      if (!entry || info?.size === entry.size) return;
      const moved = info ? await moveAside(this.layout, this.layout.imagePath(imageId), imageId, 'resized') : null;
      await this.driver.remove([imageId]);
      const repair: Repair = info
        ? { action: 'quarantined', imageId, cause: 'resized', reason, movedTo: moved?.movedTo ?? null }
        : { action: 'dropped', imageId, cause: 'missing', reason };
      this.logger.warn({ ...repair }, `read: ${describeRepair(repair)}`);
    });
  }

  /** Closes this process's descriptors of an image and drops its pending hits: its file is going away. */
  private forgetImage(imageId: string): void {
    this.openFiles.retire(imageId);
    this.hits.forget(imageId);
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
