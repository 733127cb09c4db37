import { ImgcacheError, type ImageCache } from '@imgcache/core';
import { httpRequest } from '../http-client.js';
import { checksumFromHeaders } from './response-checksum.js';

/** The origin answered with a status other than 200 (`ERR_IMGCACHE_ORIGIN_RESPONSE`, an answer that cannot be used). */
export class OriginStatusError extends ImgcacheError {
  constructor(
    readonly status: number,
    statusText: string,
  ) {
    super('ERR_IMGCACHE_ORIGIN_RESPONSE', `origin answered HTTP ${status}${statusText ? ` ${statusText}` : ''}`);
  }
}

export interface FetchImageOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Called once the response headers arrived, with the announced size if any. */
  onStart: (size: number | undefined) => void;
  /** Called for every chunk received. */
  onBytes: (bytes: number) => void;
}

export type FetchOutcome = { cached: true; size: number } | { cached: false };

/**
 * Downloads one image from the origin straight into the cache, streaming: the announced
 * `Content-Length` must match and an announced checksum must verify, or nothing is cached
 * (and the queue marker stays for the next run).
 * @throws {OriginStatusError} for a non-200 answer; network, size and checksum errors as raised.
 */
export async function fetchIntoCache(
  cache: ImageCache,
  imageId: string,
  url: string,
  options: FetchImageOptions,
): Promise<FetchOutcome> {
  // identity: a compressed body would not match Content-Length or the checksum.
  const response = await httpRequest(url, {
    headers: { 'accept-encoding': 'identity', ...options.headers },
    signal: options.signal,
  });
  const { body } = response;
  // The origin can break off before the cache starts reading the body (it first takes the
  // image's write lock). Without a listener that 'error' event would crash the process; the
  // reader still sees the failure, because iterating an errored stream throws its error.
  body.on('error', () => undefined);
  try {
    if (response.status !== 200) throw new OriginStatusError(response.status, response.statusText);
    const checksum = checksumFromHeaders(response.headers);
    const expectedSize = announcedSize(response.headers);
    options.onStart(expectedSize);
    let received = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        received += chunk.length;
        options.onBytes(chunk.length);
        yield chunk;
      }
    };
    const cached = await cache.cacheImageIter(imageId, counted(), checksum, { expectedSize, signal: options.signal });
    return cached ? { cached: true, size: received } : { cached: false };
  } finally {
    // Frees the connection when the body was not (fully) read: an error status, or an
    // image another writer took meanwhile.
    body.destroy();
  }
}

function announcedSize(headers: Headers): number | undefined {
  if (headers.get('content-encoding')) return undefined;
  const value = headers.get('content-length');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  const size = Number(value);
  return Number.isSafeInteger(size) ? size : undefined;
}
