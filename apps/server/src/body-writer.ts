import { read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { readBuffers } from '@imgcache/core';

const takeBuffer = () => readBuffers.take();
const giveBuffer = (buffer: Uint8Array) => readBuffers.give(buffer);

/** How a response body ended: bytes handed to the socket, and whether all of it was flushed. */
export interface BodyResult {
  bytes: number;
  /** True once the whole response was handed to the kernel ('finish'). */
  finished: boolean;
  /** Why the body stopped early, when it did. */
  error: unknown;
}

/**
 * Ends the response with one buffer (a small image kept in memory, or a range of it).
 * Resolves when the response finished or the client went away; never rejects.
 */
export function endWith(response: ServerResponse, body: Uint8Array | null): Promise<BodyResult> {
  const bytes = body?.byteLength ?? 0;
  if (body) response.end(body);
  else response.end();
  return settled(response, bytes, null);
}

/**
 * Sends bytes `[start, end]` of an open file: positional reads into pooled buffers, each
 * handed to the socket as it is and returned to the pool once written. The next read runs
 * while the socket drains the previous chunk, so a fast client never waits for the disk
 * between chunks; a slow client holds at most two buffers. A read error or a file shorter
 * than expected destroys the connection: a client never gets a short body that looks whole.
 * Resolves only once no read is in flight, so the caller may release the descriptor.
 */
export async function sendFileRange(
  response: ServerResponse,
  fd: number,
  start: number,
  end: number,
): Promise<BodyResult> {
  const readAt = (position: number) => {
    const read = readChunk(fd, position, end - position + 1);
    // Handled where it is awaited; until then a failure must not count as unhandled.
    read.catch(() => undefined);
    return read;
  };
  let next: Promise<Buffer> | null = readAt(start);
  let position = start;
  let bytes = 0;
  try {
    while (next) {
      const chunk: Buffer = await next;
      next = null;
      if (response.destroyed) {
        giveBuffer(chunk);
        throw new Error('client went away');
      }
      position += chunk.byteLength;
      bytes += chunk.byteLength;
      const done = () => giveBuffer(chunk);
      if (position > end) {
        response.end(chunk, done);
        break;
      }
      next = readAt(position);
      if (!response.write(chunk, done)) await drained(response);
    }
  } catch (error) {
    response.destroy();
    // The descriptor must outlive every read of it.
    if (next) await next.then(giveBuffer, () => undefined);
    return { bytes, finished: false, error };
  }
  return settled(response, bytes, null);
}

/** Reads up to one pooled buffer at `position`; the buffer goes back to the pool on failure. */
async function readChunk(fd: number, position: number, remaining: number): Promise<Buffer> {
  const buffer = takeBuffer();
  let bytesRead: number;
  try {
    bytesRead = await readInto(fd, buffer, Math.min(buffer.byteLength, remaining), position);
  } catch (error) {
    giveBuffer(buffer);
    throw error;
  }
  if (bytesRead === 0) {
    giveBuffer(buffer);
    throw new Error('the cached file is shorter than its metadata');
  }
  return bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead);
}

/**
 * Writes chunks as an iterable yields them, with backpressure, then ends the response. Each
 * chunk lent by core's read-buffer pool goes back to it once the socket is done with it. A
 * failing iterable destroys the connection (never a clean end after a short body), and a
 * client that goes away stops the iterable.
 */
export async function sendChunks(response: ServerResponse, chunks: AsyncIterable<Uint8Array>): Promise<BodyResult> {
  const iterator = chunks[Symbol.asyncIterator]();
  let bytes = 0;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      if (response.destroyed) throw new Error('client went away');
      const chunk = next.value;
      bytes += chunk.byteLength;
      if (!response.write(chunk, () => giveBuffer(chunk))) await drained(response);
    }
  } catch (error) {
    response.destroy();
    await iterator.return?.().catch(() => undefined);
    return { bytes, finished: false, error };
  }
  response.end();
  return settled(response, bytes, null);
}

function readInto(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
  );
}

/** Resolves at 'drain'; rejects when the connection closes first. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      response.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      response.off('drain', onDrain);
      reject(new Error('client went away'));
    };
    response.once('drain', onDrain);
    response.once('close', onClose);
  });
}

/** Resolves once the ended response finished, or its connection closed before that. */
function settled(response: ServerResponse, bytes: number, error: unknown): Promise<BodyResult> {
  if (response.writableFinished) return Promise.resolve({ bytes, finished: true, error });
  return new Promise((resolve) => {
    const onFinish = () => {
      response.off('close', onClose);
      resolve({ bytes, finished: true, error });
    };
    const onClose = () => {
      response.off('finish', onFinish);
      resolve({
        bytes,
        finished: response.writableFinished,
        error: error ?? (response.writableFinished ? null : new Error('client went away')),
      });
    };
    response.once('finish', onFinish);
    response.once('close', onClose);
  });
}
