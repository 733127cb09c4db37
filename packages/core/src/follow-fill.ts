import { open, type FileHandle } from 'node:fs/promises';
import { FillAbortedError } from './errors.js';
import type { Fill } from './fill.js';
import { errnoCode } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

const FOLLOW_CHUNK = 1024 * 1024;

/**
 * Streams a fill's bytes from its temporary file as they are written, from the first byte.
 * The follower keeps its own file descriptor, so the rename at commit does not disturb it,
 * and it reads at its own pace without holding anything in memory for it. It ends when the
 * fill has committed and every byte was read; it throws the fill's error if the fill fails.
 */
export async function* followFill(fill: Fill, layout: CacheLayout, signal?: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
  const handle = await openFollowed(fill, layout);
  try {
    let position = 0;
    for (;;) {
      if (signal?.aborted) throw new FillAbortedError(fill.imageId, { cause: signal.reason });
      const changed = fill.changed();
      const { written, outcome } = fill.progress;
      if (outcome && !outcome.committed) throw outcome.error;
      if (position < written) {
        const length = Math.min(written - position, FOLLOW_CHUNK);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        if (bytesRead === 0) throw new FillAbortedError(fill.imageId);
        position += bytesRead;
        yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
        continue;
      }
      if (outcome?.committed) return;
      await waitFor(changed, signal);
    }
  } finally {
    await handle.close();
  }
}

async function openFollowed(fill: Fill, layout: CacheLayout): Promise<FileHandle> {
  try {
    return await open(fill.tempPath, 'r');
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    // The fill moved its file already: into place when committing (the metadata commit may
    // still be running), aside when it failed. Its outcome tells which; it comes once the
    // fill ends, so this wait is bounded by the fill itself.
    while (!fill.progress.outcome) await fill.changed();
    const { outcome } = fill.progress;
    if (outcome.committed) return open(layout.imagePath(fill.imageId), 'r');
    throw outcome.error;
  }
}

function waitFor(changed: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return changed;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    changed.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
