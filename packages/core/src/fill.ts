import type { FileHandle } from 'node:fs/promises';
import { MultiHasher, formatChecksum, type ChecksumAlgorithm, type ParsedChecksum } from './checksum.js';
import { quarantineClaim, releaseClaim, takeWriteClaim, type WriteClaim } from './claims.js';
import { commitVerified } from './fill-commit.js';
import { nextTimestamp } from './clock.js';
import type { CacheEntry, Driver } from './driver.js';
import { ChecksumMismatchError, FillAbortedError, SizeMismatchError } from './errors.js';
import { readFill } from './fill-reader.js';
import { ChunkWindow } from './fill-window.js';
import { FileAppender } from './io/file-appender.js';
import type { CacheLayout } from './layout.js';
import type { Logger } from './logger.js';

/** Bytes of a fill that may wait for the disk before the origin is read further. */
const MAX_UNWRITTEN = 8 * 1024 * 1024;
/** Written bytes kept in memory for readers that are a little behind. */
const RETAINED = 4 * 1024 * 1024;
/** How far the slowest reader may lag while a fill relays without a disk (then the origin waits). */
const RELAY_WINDOW = 32 * 1024 * 1024;

/** Bytes to cache: any async or sync iterable of chunks (a Readable, a fetch body, a generator). */
export type ImageSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** What a fill needs from the cache that runs it. */
export interface FillContext {
  layout: CacheLayout;
  driver: Driver;
  algorithm: ChecksumAlgorithm;
  logger: Logger;
  /** Called once the entry is committed, before {@link Fill.done} resolves. */
  onCommitted: (entry: CacheEntry) => void;
}

/** What the origin announced about the bytes. */
export interface FillExpectations {
  /** Checksums the bytes must match, each in its own algorithm (all are verified). */
  checksums?: readonly ParsedChecksum[] | undefined;
  /** Bytes the source must deliver. */
  size?: number | undefined;
}

/** The committed result of a fill. */
export interface CommittedImage {
  imageId: string;
  size: number;
  checksum: string;
}

/**
 * One image being written into the cache while any number of readers stream it.
 *
 * The fill pulls its source at the origin's pace: each chunk is hashed, kept in memory
 * for readers that keep up, and queued for the disk with several writes in flight. A
 * reader that falls behind the memory window reads the temporary file instead, so no
 * reader slows the fill or another reader. The checksum and size are verified once, here,
 * as the bytes pass; the last byte is released to readers only once they match, so no
 * reader ever gets a complete-looking wrong body. Durability follows the release:
 * fdatasync, then {@link commitVerified} (rename into `images/` under the writer's claim,
 * directory fsync, the metadata commit). No other process moves the file meanwhile:
 * maintenance honours the live claim.
 *
 * (One class on purpose, about 400 lines: the writer, its readers' view and the relay share
 * one state machine, and splitting it would spread each transition over several files.
 * Memory is in fill-window.ts, the disk queue in io/file-appender.ts, readers in
 * fill-reader.ts, the commit in fill-commit.ts.)
 *
 * If the disk fails (full, I/O error), the fill stops writing and keeps relaying the
 * source to its readers, verified the same way; the origin then waits for the slowest of
 * them. Nothing is cached, and nobody new may join.
 */
export class Fill {
  /** Resolves with the committed image, or null when the bytes were not kept (cancelled,
   * the disk failed); rejects when the source failed, mismatched or was aborted. */
  readonly done: Promise<CommittedImage | null>;
  /** Opaque data the starter attached (the server keeps origin headers here). */
  readonly info: unknown;
  /**
   * The committed entry's `lastModified` (ms), taken when the fill began, so that clients
   * of the fill can be told the Last-Modified that hits of the image will carry.
   */
  readonly lastModified: number;
  private readonly window = new ChunkWindow();
  private readonly hasher: MultiHasher;
  private readonly appender: FileAppender;
  private readonly readers = new Set<{ position: number }>();
  private received = 0;
  /** `algorithm:hex` of the whole image in the cache's algorithm, once verified. */
  private digest = '';
  private verified = false;
  private failure: unknown = null;
  private relaying = false;
  private kept = true;
  private settled = false;
  private users = 1;
  private publishing: Promise<unknown> | null = null;
  private publishFailure: unknown = null;
  private wakers: (() => void)[] = [];
  private resolveDone!: (image: CommittedImage | null) => void;
  private rejectDone!: (error: unknown) => void;
  /** The work file, in `incomplete/`: this writer's claim on the image until the commit. */
  readonly workFilePath: string;
  /** @deprecated Use {@link Fill.workFilePath}; this name goes in 1.0. */
  get tempPath(): string {
    return this.workFilePath;
  }
  private readonly handle: FileHandle;

  private constructor(
    private readonly context: FillContext,
    readonly imageId: string,
    private readonly claimed: WriteClaim,
    readonly expected: FillExpectations,
    info: unknown,
  ) {
    this.workFilePath = claimed.path;
    this.handle = claimed.handle;
    this.info = info;
    this.lastModified = nextTimestamp();
    this.hasher = new MultiHasher([
      context.algorithm,
      ...(expected.checksums ?? []).map((checksum) => checksum.algorithm),
    ]);
    this.appender = new FileAppender(claimed.handle.fd, () => this.onDiskProgress());
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Callers that only stream never look at `done`; its rejection is theirs to see, not unhandled.
    this.done.catch(() => undefined);
  }

  /**
   * Creates this writer's temporary file, then backs off if another live writer (in any
   * process) holds a claim on the same image: at most one writer per image proceeds.
   * @returns null when another writer holds the image.
   */
  static async claim(
    context: FillContext,
    imageId: string,
    expected: FillExpectations,
    info?: unknown,
  ): Promise<Fill | null> {
    const claimed = await takeWriteClaim(context.layout, imageId);
    return claimed && new Fill(context, imageId, claimed, expected, info);
  }

  /** Size announced by the origin, or the size once the source ended; undefined before. */
  get size(): number | undefined {
    return this.expected.size ?? (this.verified ? this.received : undefined);
  }

  /** Bytes received from the source so far. */
  get bytesReceived(): number {
    return this.received;
  }

  /** True while new readers may join (not failed, not relaying without a disk, not cancelled). */
  get joinable(): boolean {
    return this.readable && this.kept;
  }

  /** True while a new reader could still get every byte (not failed, not relaying without a disk). */
  get readable(): boolean {
    return !this.failure && !this.relaying;
  }

  /** The disk's error when the bytes were relayed or verified but could not be cached; else null. */
  get diskFailure(): unknown {
    return this.publishFailure ?? (this.relaying ? this.appender.failure : null);
  }

  /** True once every byte arrived and matched. */
  get isVerified(): boolean {
    return this.verified;
  }

  /**
   * Pulls the source to its end. Never rejects: the outcome goes to {@link done} and to
   * the readers.
   */
  async run(source: ImageSource, signal?: AbortSignal): Promise<void> {
    try {
      for await (const chunk of source) {
        if (signal?.aborted) throw new FillAbortedError(this.imageId, { cause: signal.reason });
        if (this.failure) throw this.failure;
        if (!(chunk instanceof Uint8Array))
          throw new TypeError(`Image sources must yield Uint8Array or Buffer chunks, got ${typeof chunk}`);
        if (chunk.byteLength === 0) continue;
        this.accept(chunk);
        if (!this.relaying && this.appender.pending > MAX_UNWRITTEN) await this.appender.waitBelow(MAX_UNWRITTEN);
        if (this.appender.failure && !this.relaying) this.startRelaying();
        if (this.relaying) await this.waitForReaders();
      }
      if (signal?.aborted) throw new FillAbortedError(this.imageId, { cause: signal.reason });
      if (this.failure) throw this.failure;
      this.verify();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.verified = true;
    this.wake();
    this.publishing = this.publish();
    await this.publishing;
  }

  /**
   * Streams bytes `[start, end)` as they arrive: from memory when the reader keeps up,
   * from the temporary file when it lags. Throws the fill's error (never a silently short
   * stream) if the fill fails before the reader has everything.
   */
  read(
    options: { start?: number; end?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    return readFill(this, options);
  }

  /** @internal for {@link readFill}: registers a reader; false when it may not join. */
  attach(reader: { position: number }): boolean {
    // Zero users: the fill is over and its file closed. Relaying: the bytes a new reader
    // would start with may be gone from memory and were never written.
    if ((this.settled && !this.verified) || this.users === 0 || this.relaying) return false;
    this.readers.add(reader);
    this.users++;
    return true;
  }

  /** @internal */
  detach(reader: { position: number }): void {
    this.readers.delete(reader);
    this.wake();
    this.release();
  }

  /** @internal without a disk, the origin waits for the slowest reader: tell it when one moves. */
  readerMoved(): void {
    if (!this.relaying) return;
    this.trim();
    this.wake();
  }

  /** @internal the reader's view of the fill at this moment. */
  snapshot(): { releasable: number; complete: boolean; failure: unknown; onDisk: number } {
    const { size } = this.expected;
    // The last byte waits for verification; without an announced size, the whole latest chunk does.
    const releasable = this.verified
      ? this.received
      : size !== undefined
        ? Math.min(this.received, size - 1)
        : this.received - this.window.lastLength;
    return {
      releasable,
      complete: this.verified,
      failure: this.verified ? null : this.failure,
      onDisk: this.appender.written,
    };
  }

  /** @internal */
  chunkAt(position: number): { offset: number; data: Uint8Array } | undefined {
    return this.window.at(position);
  }

  /** @internal reads the temporary file (valid below `snapshot().onDisk`). */
  async readFile(buffer: Uint8Array, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, 0, buffer.byteLength, position);
    return bytesRead;
  }

  /** @internal resolves at the next change (new bytes, a reader moved, the end, or {@link interrupt}). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  /** @internal wakes every waiter so it looks again (a reader's signal aborted). */
  interrupt(): void {
    this.wake();
  }

  /**
   * Keeps streaming to the readers but caches nothing (the image was deleted meanwhile).
   * Resolves once the fill will not commit, or once a commit already under way finished:
   * after that the caller may remove what it placed.
   */
  async cancel(): Promise<void> {
    this.kept = false;
    await this.publishing?.catch(() => undefined);
  }

  /** Stops the fill now: readers get `error`, nothing is cached. Waits for a commit already under way. */
  async abort(error?: unknown): Promise<void> {
    error ??= new FillAbortedError(this.imageId);
    if (!this.verified) this.fail(error);
    this.kept = false;
    await this.publishing?.catch(() => undefined);
    if (this.settled) await this.done.catch(() => undefined);
  }

  private accept(chunk: Uint8Array): void {
    const { size } = this.expected;
    if (size !== undefined && this.received + chunk.byteLength > size) {
      throw new SizeMismatchError(this.imageId, size, this.received + chunk.byteLength);
    }
    this.hasher.update(chunk);
    this.window.push(this.received, chunk);
    this.received += chunk.byteLength;
    if (!this.relaying) this.appender.append(chunk);
    this.trim();
    this.wake();
  }

  private verify(): void {
    const { size, checksums = [] } = this.expected;
    if (size !== undefined && size !== this.received) throw new SizeMismatchError(this.imageId, size, this.received);
    const digests = this.hasher.digest();
    for (const checksum of checksums) {
      if (digests.get(checksum.algorithm) === checksum.hex) continue;
      const actual = { algorithm: checksum.algorithm, hex: digests.get(checksum.algorithm)! };
      throw new ChecksumMismatchError(this.imageId, formatChecksum(checksum), formatChecksum(actual));
    }
    this.digest = formatChecksum({ algorithm: this.context.algorithm, hex: digests.get(this.context.algorithm)! });
  }

  /** Makes the verified file durable, moves it into place and commits its metadata. */
  private async publish(): Promise<void> {
    try {
      if (this.relaying) throw this.appender.failure;
      await this.appender.finish();
      await this.handle.datasync();
      if (!this.kept) return this.settle(null);
      const image = {
        imageId: this.imageId,
        size: this.received,
        checksum: this.digest,
        lastModified: this.lastModified,
      };
      const entry = await commitVerified(this.context.layout, this.context.driver, this.claimed, image);
      this.context.onCommitted(entry);
      this.settle({ imageId: this.imageId, size: this.received, checksum: this.digest });
    } catch (error) {
      // The readers have every byte already; only the cache entry is lost.
      this.publishFailure = error;
      this.context.logger.warn(
        { imageId: this.imageId, err: describe(error) },
        'the image was streamed but could not be cached',
      );
      this.settle(null, error);
    }
  }

  private startRelaying(): void {
    this.relaying = true;
    this.context.logger.warn(
      { imageId: this.imageId, err: describe(this.appender.failure) },
      'cache write failed; relaying the rest without caching',
    );
    if (this.readers.size === 0) throw this.appender.failure;
  }

  /** Without a disk the memory window is all the readers have: the origin waits for the slowest. */
  private async waitForReaders(): Promise<void> {
    if (this.readers.size === 0) throw this.appender.failure;
    while (this.received - this.slowestReader() > RELAY_WINDOW) {
      if (this.readers.size === 0) throw this.appender.failure;
      await this.changed();
    }
  }

  private slowestReader(): number {
    let slowest = this.received;
    for (const reader of this.readers) slowest = Math.min(slowest, reader.position);
    return slowest;
  }

  private onDiskProgress(): void {
    this.trim();
    this.wake();
  }

  /** Drops chunks no reader can need from memory: written ones, past the retained tail. */
  private trim(): void {
    const keepFrom = this.relaying ? this.slowestReader() : Math.min(this.appender.written, this.received - RETAINED);
    this.window.dropBefore(keepFrom);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.failure ??= error;
    this.settle(null, this.failure);
  }

  /** Ends the fill: readers learn at once; {@link done} settles once the file is in its final place. */
  private settle(image: CommittedImage | null, error?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.wake();
    const finish = () => {
      if (image) this.resolveDone(image);
      else if (error !== undefined && !this.verified) this.rejectDone(error);
      else this.resolveDone(null);
      this.release();
    };
    if (image) finish();
    // A stop asked for (the caller's signal: Ctrl-C, shutdown) is no failed write to inspect.
    else if (error instanceof FillAbortedError)
      void releaseClaim(this.claimed)
        .catch(() => undefined)
        .then(finish);
    else void this.quarantine().then(finish);
  }

  /** Moves the temporary file to `invalid/` so it is never served (removal is as good), ending the claim. */
  private async quarantine(): Promise<void> {
    await quarantineClaim(this.context.layout, this.claimed, 'failed').catch(() => undefined);
  }

  /** Closes the file once the fill is over and no reader needs it. */
  private release(): void {
    // The fill holds one use until it settles, so zero users means settled.
    if (--this.users === 0) void this.handle.close().catch(() => undefined);
  }

  private wake(): void {
    const waiting = this.wakers;
    this.wakers = [];
    for (const resolve of waiting) resolve();
  }
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${(error as { code?: string }).code ?? error.name}: ${error.message}`
    : String(error);
}
