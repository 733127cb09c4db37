import { rename, unlink, type FileHandle } from 'node:fs/promises';
import { MultiHasher, formatChecksum, type ChecksumAlgorithm, type ParsedChecksum } from './checksum.js';
import { abandonClaim, lockForCommit, releaseClaim, takeWriteClaim, type WriteClaim } from './claims.js';
import { nextTimestamp } from './clock.js';
import type { Driver } from './driver.js';
import { ChecksumMismatchError, FillAbortedError, SizeMismatchError } from './errors.js';
import { fsyncDirectory } from './io/fsync.js';
import { ignoreMissing } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

/** What a fill needs from the cache that runs it. */
export interface FillContext {
  layout: CacheLayout;
  driver: Driver;
  algorithm: ChecksumAlgorithm;
}

export interface FillExpectations {
  checksum?: ParsedChecksum | undefined;
  size?: number | undefined;
}

/** The committed result of a fill. */
export interface CommittedImage {
  imageId: string;
  size: number;
  checksum: string;
}

/**
 * One writer's temporary file under `incomplete/`, from claim to commit or quarantine.
 *
 * Crash protocol, in order: write to a unique temporary file (its name carries the
 * writer's pid, so a restart can tell a dead writer's leftovers from a live one, and it is
 * the writer's claim on the image, see claims.ts), hash while writing, fdatasync the file,
 * link it to a lock so the claim outlives the next step, rename it into `images/`, fsync
 * `images/`, commit metadata, and only then release the claim. A crash before the rename
 * leaves only claim files, which startup reconcile quarantines; a crash after it leaves a
 * complete, verified file without metadata, which reconcile adopts. No other process moves
 * the file meanwhile: maintenance honours the live claim.
 */
export class Fill {
  private bytes = 0;
  private readonly hasher: MultiHasher;
  private settled = false;
  private cancelled = false;
  private committing: Promise<CommittedImage> | null = null;
  /** Bytes a follower may read: written, minus the last chunk until the fill is verified,
   * so a follower of a mismatching stream never receives a complete-looking body. */
  private written = 0;
  private lastChunk = 0;
  private outcome: { committed: true } | { committed: false; error: unknown } | null = null;
  private wake: (() => void)[] = [];

  readonly tempPath: string;
  private readonly handle: FileHandle;

  private constructor(
    private readonly context: FillContext,
    readonly imageId: string,
    private readonly claimed: WriteClaim,
    private readonly expectations: FillExpectations,
  ) {
    this.tempPath = claimed.path;
    this.handle = claimed.handle;
    const algorithms = [context.algorithm];
    if (expectations.checksum) algorithms.push(expectations.checksum.algorithm);
    this.hasher = new MultiHasher(algorithms);
  }

  /**
   * Creates this writer's temporary file, then backs off if another live process holds a
   * claim on the same image: at most one writer per image across processes proceeds.
   * @returns null when another writer holds the image.
   */
  static async claim(context: FillContext, imageId: string, expectations: FillExpectations): Promise<Fill | null> {
    const claimed = await takeWriteClaim(context.layout, imageId);
    return claimed && new Fill(context, imageId, claimed, expectations);
  }

  get bytesWritten(): number {
    return this.bytes;
  }

  /** Appends a chunk. The hash runs while the write is in the thread pool. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.cancelled) throw new FillAbortedError(this.imageId);
    const pending = writeAll(this.handle, chunk);
    this.hasher.update(chunk);
    this.bytes += chunk.byteLength;
    await pending;
    this.written += this.lastChunk;
    this.lastChunk = chunk.byteLength;
    this.notify();
  }

  /** Progress as followers see it: bytes readable from {@link tempPath}, and how the fill ended. */
  get progress(): { written: number; outcome: { committed: true } | { committed: false; error: unknown } | null } {
    return { written: this.written, outcome: this.outcome };
  }

  /** Resolves at the next write, commit or failure. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.wake.push(resolve));
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const resolve of waiting) resolve();
  }

  private finish(outcome: { committed: true } | { committed: false; error: unknown }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    if (outcome.committed) this.written = this.bytes;
    this.notify();
  }

  /**
   * Verifies size and checksum; if they match, makes the file durable, moves it into
   * place and commits metadata. On a mismatch the file is quarantined and the error thrown.
   * @throws {SizeMismatchError | ChecksumMismatchError}
   */
  commit(): Promise<CommittedImage> {
    if (this.cancelled) return Promise.reject(new FillAbortedError(this.imageId));
    this.committing ??= this.verifyAndCommit().then(
      (image) => {
        this.finish({ committed: true });
        return image;
      },
      (error: unknown) => {
        this.finish({ committed: false, error });
        throw error;
      },
    );
    return this.committing;
  }

  /**
   * Stops this fill: the temporary file is quarantined and later writes and the commit
   * fail with FillAbortedError. A commit already past its checks still completes; wait for
   * {@link settledCommit} before removing what it may have placed.
   */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await this.abandon();
  }

  /** Resolves once a started commit has finished, successfully or not. */
  async settledCommit(): Promise<void> {
    await this.committing?.catch(() => undefined);
  }

  private async verifyAndCommit(): Promise<CommittedImage> {
    const { size: expectedSize, checksum: expected } = this.expectations;
    if (expectedSize !== undefined && expectedSize !== this.bytes) {
      throw await this.failWith(new SizeMismatchError(this.imageId, expectedSize, this.bytes));
    }
    const digests = this.hasher.digest();
    if (expected && digests.get(expected.algorithm) !== expected.hex) {
      const actual = { algorithm: expected.algorithm, hex: digests.get(expected.algorithm)! };
      throw await this.failWith(new ChecksumMismatchError(this.imageId, formatChecksum(expected), formatChecksum(actual)));
    }
    const checksum = formatChecksum({ algorithm: this.context.algorithm, hex: digests.get(this.context.algorithm)! });
    const { layout, driver } = this.context;
    try {
      await this.handle.datasync();
      await this.handle.close();
    } catch (error) {
      throw await this.failWith(error);
    }
    // From here this method alone owns the work file: cancel() no longer moves it.
    this.settled = true;
    let lock;
    try {
      lock = await lockForCommit(layout, this.claimed);
    } catch (error) {
      await releaseClaim(this.claimed);
      throw error;
    }
    try {
      await rename(this.tempPath, layout.imagePath(this.imageId));
      await fsyncDirectory(layout.imagesDir);
      await driver.commit({ imageId: this.imageId, size: this.bytes, checksum, lastModified: nextTimestamp() });
      await ignoreMissing(unlink(layout.queuePath(this.imageId)));
    } finally {
      // After the rename the work file's name is gone and this only forgets it; the lock
      // goes last, once the metadata is committed (or the commit failed).
      await releaseClaim(this.claimed);
      await releaseClaim(lock);
    }
    return { imageId: this.imageId, size: this.bytes, checksum };
  }

  /** Closes the file and moves it to `invalid/` so it is never served; idempotent. */
  async abandon(error: unknown = new FillAbortedError(this.imageId)): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.finish({ committed: false, error });
    await this.handle.close().catch(() => undefined);
    // Moving fails only when the file is gone or the disk is unusable; either way it is not served.
    await abandonClaim(this.context.layout, this.claimed, 'failed').catch(() => undefined);
  }

  private async failWith(error: unknown): Promise<unknown> {
    await this.abandon(error);
    return error;
  }
}

/**
 * Writes every byte of a chunk. On a nearly full disk write(2) may store only part of a
 * chunk without an error; counting the whole chunk would commit a truncated file whose
 * counted size and checksum still match. The next write then reports the real error.
 */
async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    if (bytesWritten === 0) throw Object.assign(new Error('write stored no bytes'), { code: 'EIO' });
    offset += bytesWritten;
  }
}
