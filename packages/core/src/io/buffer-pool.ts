/**
 * Fixed-size buffers for reading cached files, handed back once their bytes have left the
 * process (written to a socket, copied elsewhere). Reusing them keeps a busy server from
 * making a megabyte of garbage per read: V8 collects such external memory only after tens
 * of megabytes have piled up, which showed as resident memory far above what was in use.
 *
 * Ownership is tracked by the underlying ArrayBuffer, so `give` accepts a subarray of a
 * pooled buffer and ignores anything else (a chunk from the network, a window chunk):
 * callers may hand back every chunk they wrote without knowing where it came from.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly lent = new WeakMap<ArrayBufferLike, Buffer>();

  /**
   * @param bufferBytes size of every buffer, in bytes
   * @param keep most free buffers kept for reuse; beyond it, returned buffers are left to the collector
   */
  constructor(
    readonly bufferBytes: number,
    readonly keep: number,
  ) {}

  /** A buffer of `bufferBytes` (contents undefined), lent until {@link give}. */
  take(): Buffer {
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
    this.lent.set(buffer.buffer, buffer);
    return buffer;
  }

  /**
   * Returns a lent buffer, given it or any view of it; anything else is ignored, and so is a
   * second return of the same buffer. The caller must hold no reference it still reads.
   */
  give(view: Uint8Array): void {
    const buffer = this.lent.get(view.buffer);
    if (!buffer) return;
    this.lent.delete(view.buffer);
    if (this.free.length < this.keep) this.free.push(buffer);
  }

  /** Free buffers held now (for tests and metrics). */
  get idle(): number {
    return this.free.length;
  }
}

/** Size of one read of a cached or temporary file; also the unit of {@link readBuffers}. */
export const READ_BUFFER_BYTES = 1024 * 1024;

/**
 * The process's pool of file-read buffers, shared by readers of fills and hit responses:
 * 16 free buffers at most (16 MiB): enough for the clients a busy node streams to at once.
 */
export const readBuffers = new BufferPool(READ_BUFFER_BYTES, 16);
