import { FillAbortedError, FillUnavailableError } from './errors.js';
import type { Fill } from './fill.js';
import { READ_BUFFER_BYTES, readBuffers } from './io/buffer-pool.js';

/**
 * Streams bytes `[start, end)` of a fill as they arrive. Chunks still in memory are yielded
 * as they are (no copy); older bytes are read from the work file through the fill's
 * own descriptor, which stays valid across the rename at commit, into buffers lent by
 * {@link readBuffers} (a consumer may `give` each chunk back once it is done with it). Throws the fill's error
 * if it fails before this reader has its bytes, FillAbortedError when `signal` aborts, and
 * FillUnavailableError when the fill can no longer be joined or lost this reader's bytes.
 */
export async function* readFill(
  fill: Fill,
  { start = 0, end = Number.POSITIVE_INFINITY, signal }: { start?: number; end?: number; signal?: AbortSignal },
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = { position: start };
  if (!fill.attach(reader)) throw fill.snapshot().failure ?? new FillUnavailableError(fill.imageId);
  // One listener per reader, not one per wait: EventTarget listeners cost more than a chunk.
  const onAbort = () => fill.interrupt();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw new FillAbortedError(fill.imageId, { cause: signal.reason });
      const { releasable, complete, failure, onDisk } = fill.snapshot();
      const limit = Math.min(end, releasable);
      if (reader.position < limit) {
        const chunk = fill.chunkAt(reader.position);
        if (chunk) {
          const from = reader.position - chunk.offset;
          const to = Math.min(chunk.data.byteLength, limit - chunk.offset);
          reader.position += to - from;
          fill.readerMoved();
          yield from === 0 && to === chunk.data.byteLength ? chunk.data : chunk.data.subarray(from, to);
          continue;
        }
        // Behind the memory window: those bytes are on disk.
        const length = Math.min(limit, onDisk, reader.position + READ_BUFFER_BYTES) - reader.position;
        if (length <= 0) throw new Error(`fill of ${fill.imageId} lost bytes at ${reader.position}; this is a bug`);
        const buffer = readBuffers.take().subarray(0, length);
        const bytesRead = await fill.readFile(buffer, reader.position).catch((error: unknown) => {
          readBuffers.give(buffer);
          throw error;
        });
        if (bytesRead === 0) {
          readBuffers.give(buffer);
          throw new FillUnavailableError(fill.imageId);
        }
        reader.position += bytesRead;
        fill.readerMoved();
        yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
        continue;
      }
      // A failed fill still hands over what it had released, then its error: never a short body that ends cleanly.
      if (failure) throw failure;
      if (reader.position >= end || (complete && reader.position >= releasable)) return;
      await fill.changed();
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    fill.detach(reader);
  }
}
