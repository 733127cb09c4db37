import { writev } from 'node:fs';

/** Bytes gathered into one `writev` call: fewer, larger writes cost fewer syscalls and wakeups. */
const DEFAULT_BATCH_BYTES = 1024 * 1024;

/**
 * Appends chunks to a file with several positional writes in flight, so the producer never
 * waits for one write before handing over the next chunk. Chunks are gathered into batches
 * written with `writev(2)` at their offsets; writes may finish out of order, and
 * {@link written} is the prefix of the file that is complete.
 *
 * The appender keeps a reference to every chunk until its write finishes: callers must
 * not reuse chunk buffers.
 */
export class FileAppender {
  /** Bytes from offset 0 that are on disk (completed writes, contiguous). */
  written = 0;
  /** The first write error; once set, nothing more is written. */
  failure: unknown = null;
  private submitted = 0;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  /** Completed writes past a gap left by a slower earlier write: start offset → end offset. */
  private readonly completedAhead = new Map<number, number>();
  private waiters: (() => void)[] = [];

  /**
   * @param fd an open descriptor, writable, that the caller closes after {@link finish}.
   * @param onProgress called after each completed write and on failure.
   */
  constructor(
    private readonly fd: number,
    private readonly onProgress: () => void,
    private readonly batchLimit = DEFAULT_BATCH_BYTES,
  ) {}

  /** Bytes handed over but not yet on disk. */
  get pending(): number {
    return this.submitted + this.batchBytes - this.written;
  }

  /** Queues a chunk; it is written once a batch is full or at {@link flush}. Ignored after a failure. */
  append(chunk: Uint8Array): void {
    if (this.failure) return;
    this.batch.push(chunk);
    this.batchBytes += chunk.byteLength;
    if (this.batchBytes >= this.batchLimit) this.flush();
  }

  /** Submits the partial batch. */
  flush(): void {
    if (this.batchBytes === 0 || this.failure) return;
    const buffers = this.batch;
    const start = this.submitted;
    const length = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.submitted += length;
    this.writeAt(buffers, start, start + length);
  }

  /**
   * Resolves once at most `limit` bytes are pending, or the appender failed.
   * @throws nothing: check {@link failure}.
   */
  async waitBelow(limit: number): Promise<void> {
    while (this.pending > limit && !this.failure) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /**
   * Writes what is left and waits for every write.
   * @throws the first write error.
   */
  async finish(): Promise<void> {
    this.flush();
    await this.waitBelow(0);
    if (this.failure) throw this.failure;
  }

  /**
   * Writes `buffers` at `start`. write(2) may store only part of the data on a nearly full
   * disk without an error; counting the whole batch would commit a truncated file whose
   * counted size and checksum still match, so the rest is written again until the disk
   * reports the real error.
   */
  private writeAt(buffers: Uint8Array[], start: number, end: number): void {
    writev(this.fd, buffers, start, (error, bytesWritten) => {
      if (this.failure) return;
      if (error || bytesWritten === 0) {
        this.fail(error ?? Object.assign(new Error('write stored no bytes'), { code: 'EIO' }));
        return;
      }
      const reached = start + bytesWritten;
      if (reached < end) return this.writeAt(remainder(buffers, bytesWritten), reached, end);
      this.complete(start, end);
    });
  }

  private complete(start: number, end: number): void {
    this.completedAhead.set(start, end);
    let next = this.completedAhead.get(this.written);
    while (next !== undefined) {
      this.completedAhead.delete(this.written);
      this.written = next;
      next = this.completedAhead.get(this.written);
    }
    this.wake();
  }

  private fail(error: unknown): void {
    this.failure = error;
    this.batch = [];
    this.batchBytes = 0;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const resolve of waiting) resolve();
    this.onProgress();
  }
}

/** The buffers minus their first `skip` bytes. */
function remainder(buffers: Uint8Array[], skip: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.byteLength) {
      skip -= buffer.byteLength;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}
