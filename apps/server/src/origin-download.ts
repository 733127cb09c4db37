import { Transform, pipeline } from 'node:stream';
import { Client, type Dispatcher } from 'undici';
import type { OriginTls } from './config.js';
import { OriginResponseError } from './errors.js';
import type { OriginHeaders, OriginResponse } from './origin.js';

/** Limits of one origin connection, in milliseconds (0: none). */
export interface OriginTimeouts {
  connect: number;
  headers: number;
  /** Longest pause between two parts of a response body. */
  idle: number;
}

/**
 * GETs an image from the origin on a connection of its own, and returns the response with
 * a body that fails, instead of ending, when the origin sent bytes past the end of its
 * response.
 *
 * Why a connection of its own: undici ends a body at its Content-Length (or at the
 * terminating chunk) and drops whatever follows on the connection without telling the
 * request. A body longer than its framing announced would then look complete. On a
 * connection nobody else uses, bytes that follow the response can only be the rest of the
 * lie: undici reports them as a "bad response" on the connection, which is checked once
 * the body ended and before its end is passed on. Bytes that arrive with or right after
 * the last ones are seen; an origin that pauses before sending more cannot be told apart
 * from a clean one.
 * @throws what undici throws when the request fails before the response headers (the
 * caller maps it, see {@link originFailure}).
 */
export async function downloadImage(
  url: string,
  options: {
    headers: OriginHeaders;
    signal?: AbortSignal | undefined;
    timeouts: OriginTimeouts;
    tls?: OriginTls | undefined;
  },
): Promise<OriginResponse> {
  const target = new URL(url);
  const client = new Client(target.origin, {
    pipelining: 1,
    connectTimeout: options.timeouts.connect,
    headersTimeout: options.timeouts.headers,
    bodyTimeout: options.timeouts.idle,
    ...(options.tls ? { connect: { ...options.tls } } : {}),
  });
  let trailing: Error | null = null;
  client.on('disconnect', (_origin, _targets, error) => {
    if (isTrailingBytes(error)) trailing = error;
  });
  let response: Dispatcher.ResponseData;
  try {
    response = await client.request({
      path: `${target.pathname}${target.search}`,
      method: 'GET',
      headers: options.headers,
      signal: options.signal,
    });
  } catch (error) {
    void client.destroy().catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | null = null;
  const close = () => (closing ??= client.close().catch(() => undefined));
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, chunk);
    },
    flush(callback) {
      // The body ended at its framing; closing the connection settles what came after it.
      close().then(() =>
        callback(
          trailing
            ? new OriginResponseError(`the origin sent more bytes than its response announced (${trailing.message})`, {
                cause: trailing,
              })
            : null,
        ),
      );
    },
  });
  pipeline(response.body, checked, (error) => {
    if (error) void client.destroy().catch(() => undefined);
    else void close();
  });
  return { statusCode: response.statusCode, headers: response.headers, body: checked };
}

/** undici's report of bytes that arrived on a connection with no request running. */
function isTrailingBytes(error: Error & { code?: string }): boolean {
  return error.name === 'HTTPParserError' || (error.code === 'UND_ERR_SOCKET' && /bad response/i.test(error.message));
}
