import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Fill } from '@imgcache/core';
import { endWith, sendChunks, type BodyResult } from './body-writer.js';
import type { OriginFillInfo } from './origin-fill.js';
import { ifRangeAllows, parseRange } from './range.js';
import { evaluatePreconditions, preconditionAnswer, representationHeaders } from './validators.js';

const OCTET_STREAM = 'application/octet-stream';

/**
 * Answers a GET or HEAD from a fill in progress: the whole image, or a single Range once
 * the size is known, each byte sent as soon as it arrived (from memory, or from the fill's
 * file for a client that lags). The validators are those hits of the image will send: the
 * ETag of the checksum the image will be recorded under (when the origin announced one)
 * and the Last-Modified the entry will keep, so preconditions (304, 412) and If-Range are
 * answered as a hit would. A fill that fails, or whose bytes miss their checksum, resets
 * the connection before the last byte: the client never sees a clean end.
 */
export function sendFromFill(
  method: string,
  requestHeaders: IncomingHttpHeaders,
  response: ServerResponse,
  fill: Fill,
  xCache: string,
): Promise<BodyResult> {
  const info = fill.info as OriginFillInfo | undefined;
  const representation = { checksum: info?.recorded, lastModified: fill.lastModified };
  const described = representationHeaders(representation);
  const precondition = evaluatePreconditions(requestHeaders, representation);
  if (precondition !== 'proceed') {
    const answer = preconditionAnswer(precondition, described, xCache);
    response.writeHead(answer.status, answer.headers);
    return endWith(response, null);
  }
  const size = fill.size;
  const headers: OutgoingHttpHeaders = { 'content-type': OCTET_STREAM, ...described, 'x-cache': xCache };
  const ifRange = first(requestHeaders['if-range']);
  const range =
    method === 'GET' &&
    size !== undefined &&
    ifRangeAllows(ifRange, described.etag as string | undefined, String(described['last-modified']))
      ? parseRange(first(requestHeaders.range), size)
      : ({ kind: 'none' } as const);
  if (range.kind === 'unsatisfiable') {
    response.writeHead(416, { 'content-range': `bytes */${size}`, 'x-cache': xCache, 'content-length': 0 });
    return endWith(response, null);
  }
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end + 1 : undefined;
  if (range.kind === 'range') {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    headers['content-length'] = range.end - range.start + 1;
  } else if (size !== undefined) {
    headers['content-length'] = size;
  }
  response.writeHead(range.kind === 'range' ? 206 : 200, headers);
  if (method === 'HEAD') return endWith(response, null);
  // A reader waiting for the next bytes of a slow origin stops as soon as its client goes away.
  const gone = new AbortController();
  const onClose = () => gone.abort(new Error('client went away'));
  response.once('close', onClose);
  return sendChunks(response, fill.read({ start, end, signal: gone.signal })).finally(() =>
    response.off('close', onClose),
  );
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
