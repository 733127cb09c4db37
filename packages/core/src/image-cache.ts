import type { Readable } from 'node:stream';
import { assertChecksumAlgorithm, parseChecksum, type ChecksumAlgorithm } from './checksum.js';
import type { CacheEntry, Driver } from './driver.js';
import { CacheClosedError } from './errors.js';
import { isClaimed } from './claims.js';
import { cacheFromFile, cacheFromSource, cachingIter } from './caching-calls.js';
import { cleanDirectories, type CleanResult } from './clean.js';
import { Fill, type ImageSource } from './fill.js';
import { FillRegistry, type FillOutcome, type FillSource, type FillStartResult } from './fill-registry.js';
import { HitRecorder } from './hit-recorder.js';
import {
  assertStallTime,
  resolveSettings,
  toCachedImage,
  type CacheSettings,
  type CachedImage,
  type FillOptions,
  type ImageCacheOptions,
  type ReadOptions,
} from './image-cache-options.js';
import { streamImage } from './image-stream.js';
import { assertValidImageId } from './image-id.js';
import { assertImageSource } from './image-source.js';
import { ensureWritableDirectory } from './io/ensure-directory.js';
import { CacheLayout } from './layout.js';
import { OpenFiles, type OpenImage } from './open-files.js';
import { checkDriverSpec, loadDriver } from './load-driver.js';
import type { Logger } from './logger.js';
import type { PruneResult } from './prune.js';
import { PrefetchQueue } from './queue.js';
import { takeProcessLock, type ProcessLock } from './process-lock.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { Removal } from './removal.js';
import { verifyImages, type VerifyResult } from './verify.js';

export type { CachedImage, FillOptions, ImageCacheOptions, ReadOptions } from './image-cache-options.js';
export type { CleanResult } from './clean.js';
export type { VerifyFailure, VerifyResult } from './verify.js';

/**
 * An LRU disk cache of image files. Open one with {@link ImageCache.open}.
 *
 * This class is the public surface and nothing more (hence its length: one short method
 * with its contract per operation). The work lives in modules named for their job:
 * fill-registry.ts and fill.ts (single-flight and the write path), open-files.ts and
 * image-stream.ts (reads), removal.ts (delete, prune), verify.ts, clean.ts, reconcile.ts,
 * caching-calls.ts (the Glance-style caching calls) and image-cache-options.ts.
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

  private readonly logger: Logger;
  private readonly queue: PrefetchQueue;
  private readonly fills: FillRegistry;
  private readonly openFiles: OpenFiles;
  private readonly hits: HitRecorder;
  private closed = false;
  private readonly removal: Removal;

  /** Held while open when the driver serves one process only (process-lock.ts). */
  private processLock: ProcessLock | null = null;

  private constructor(
    private readonly driver: Driver,
    layout: CacheLayout,
    settings: CacheSettings,
    report: ReconcileReport,
  ) {
    this.layout = layout;
    this.maxSize = settings.maxSize;
    this.stallTime = settings.stallTime;
    this.checksumAlgorithm = settings.checksumAlgorithm;
    this.logger = settings.logger;
    this.queue = new PrefetchQueue(layout);
    this.reconcileReport = report;
    this.openFiles = new OpenFiles(layout, settings.openFiles);
    this.hits = new HitRecorder(driver, settings.logger, settings.hitFlushInterval);
    this.fills = new FillRegistry({
      isCached: async (imageId) => (await this.driver.get(imageId)) !== null,
      createFill: (imageId, source) => this.createFill(imageId, source),
    });
    this.removal = new Removal({
      layout,
      driver,
      logger: settings.logger,
      fills: this.fills,
      openFiles: this.openFiles,
      hits: this.hits,
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
    const settings = resolveSettings(options);
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
        nodeId: settings.nodeId,
        logger: settings.logger,
      },
    });
    let lock: ProcessLock | null = null;
    try {
      // Before reconcile: a second opener of a single-process driver must not touch the files.
      if (!driver.capabilities.multiProcess) lock = await takeProcessLock(layout, driver.name);
      const report = await reconcile(layout, driver, settings.checksumAlgorithm, settings.logger);
      const cache = new ImageCache(driver, layout, settings, report);
      cache.processLock = lock;
      return cache;
    } catch (error) {
      await driver.close().catch(() => undefined);
      await lock?.release();
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

  /**
   * True while this process starts or runs a fill of the image (see {@link fill}): the part
   * of {@link isBeingCached} that needs no look at the disk, so it answers at once.
   */
  isBeingCachedHere(imageId: string): boolean {
    this.assertUsable(imageId);
    return this.fills.has(imageId);
  }

  /** @deprecated Use {@link isBeingCachedHere}; this name goes in 1.0. */
  isFilling(imageId: string): boolean {
    return this.isBeingCachedHere(imageId);
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
  async fill<D>(
    imageId: string,
    start: () => Promise<FillStartResult<D>>,
    options: { join?: boolean } = {},
  ): Promise<FillOutcome<D>> {
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
   * another process is writing at this moment is left to it.
   * @returns true when an image was removed.
   */
  async deleteCachedImage(imageId: string): Promise<boolean> {
    this.assertUsable(imageId);
    return this.removal.deleteImage(imageId);
  }

  /** Removes every image cached when it starts and cancels in-flight fills. @returns how many were removed. */
  async deleteAllCachedImages(): Promise<number> {
    this.assertOpen();
    return this.removal.deleteAll();
  }

  /** Evicts least-recently-used images until the cache fits in `maxSize` bytes; images being read go last. */
  async prune(maxSize: number = this.maxSize): Promise<PruneResult> {
    this.assertOpen();
    return this.removal.prune(maxSize);
  }

  /** The images prune() would evict now, without evicting them. */
  async planPrune(maxSize: number = this.maxSize): Promise<{ imageId: string; size: number }[]> {
    this.assertOpen();
    return this.removal.planPrune(maxSize);
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
    assertStallTime(stallTime);
    return cleanDirectories(this.layout, stallTime);
  }

  /**
   * Wraps a source so that consuming it also caches it; see {@link cachingIter}. Arguments
   * in the order of {@link cacheImageIter}.
   * @throws {InvalidImageIdError | InvalidChecksumError} synchronously, before anything is
   * read; a TypeError when `source` is not an iterable (a checksum passed second).
   */
  getCachingIter(
    imageId: string,
    source: ImageSource,
    checksum?: string | null,
    options: FillOptions = {},
  ): AsyncIterable<Uint8Array> {
    this.assertUsable(imageId);
    assertImageSource(source, 'getCachingIter');
    return cachingIter(this, imageId, source, checksum, options);
  }

  /**
   * Caches an image from a source; see {@link cacheFromSource}.
   * @returns true when the image is cached afterwards, false when it was not cacheable.
   * @throws {ChecksumMismatchError | SizeMismatchError | FillAbortedError} or the source's
   * error, or the disk's error; nothing is cached then.
   */
  async cacheImageIter(
    imageId: string,
    source: ImageSource,
    checksum?: string | null,
    options: FillOptions = {},
  ): Promise<boolean> {
    this.assertUsable(imageId);
    assertImageSource(source, 'cacheImageIter');
    return cacheFromSource(this, imageId, source, checksum, options);
  }

  /** Caches an image from a local file. @returns and @throws as {@link cacheImageIter}. */
  async cacheImageFile(
    imageId: string,
    path: string,
    checksum?: string | null,
    options: FillOptions = {},
  ): Promise<boolean> {
    this.assertUsable(imageId);
    return cacheFromFile(this, imageId, path, checksum, options);
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
    await this.removal.dropDamaged(
      imageId,
      image === 'missing' ? 'file is missing' : 'file size differs from its metadata',
    );
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
   * Opens a cached image for streaming; see {@link streamImage}. Reading to the end records a hit.
   * @throws {NotCachedError} when the image is not cached.
   */
  async openForRead(imageId: string, options: ReadOptions = {}): Promise<Readable> {
    return streamImage(this, imageId, options);
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
    for (const imageId of imageIds ?? []) assertValidImageId(imageId);
    const context = {
      layout: this.layout,
      driver: this.driver,
      logger: this.logger,
      isBeingCachedHere: (imageId: string) => this.fills.has(imageId),
      onDropped: (imageId: string) => this.removal.forget(imageId),
    };
    return verifyImages(context, imageIds);
  }

  /** Aborts in-flight fills (their readers get CacheClosedError), waits for them to clean up, and closes the driver. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.fills.abortAll(new CacheClosedError());
    this.closed = true;
    await this.hits.flush();
    this.openFiles.close();
    await this.driver.close();
    await this.processLock?.release();
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
