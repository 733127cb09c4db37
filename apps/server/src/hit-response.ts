import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OpenImage } from '@imgcache/core';
import { endWith, sendFileRange, type BodyResult } from './body-writer.js';
import { contentMd5Header } from './origin-checksum.js';
import { ifRangeAllows, matchesIfNoneMatch, parseRange } from './range.js';

const OCTET_STREAM = 'application/octet-stream';

/** What a hit response carried, for metrics and hit accounting. */
export interface HitResult extends BodyResult {
  /** True when a body was sent (GET 200 or 206), so a completed one counts as a hit. */
  withBody: boolean;
}

/**
 * Answers a GET or HEAD from a committed image: validators (ETag from the checksum,
 * Last-Modified from the commit time), If-None-Match → 304, a single Range → 206 or 416
 * (GET only: RFC 9110 §14.2 defines Range for GET), If-Range, and Content-MD5 when the
 * cache records md5. The body comes from memory for small images, else from the open
 * descriptor.
 */
export function sendHit(method: string, requestHeaders: IncomingHttpHeaders, response: ServerResponse, image: OpenImage): Promise<HitResult> {
  const { entry } = image;
  const etag = `"${entry.checksum}"`;
  const lastModified = new Date(entry.lastModified).toUTCString();
  if (matchesIfNoneMatch(first(requestHeaders['if-none-match']), etag)) {
    response.writeHead(304, { etag, 'last-modified': lastModified, 'x-cache': 'HIT' });
    return withoutBody(endWith(response, null));
  }
  const headers: OutgoingHttpHeaders = {
    'content-type': OCTET_STREAM,
    'accept-ranges': 'bytes',
    etag,
    'last-modified': lastModified,
    'x-cache': 'HIT',
  };
  const md5 = contentMd5Header(entry.checksum);
  if (md5) headers['content-md5'] = md5;
  const range =
    method === 'GET' && ifRangeAllows(first(requestHeaders['if-range']), etag, lastModified)
      ? parseRange(first(requestHeaders.range), entry.size)
      : ({ kind: 'none' } as const);
  if (range.kind === 'unsatisfiable') {
    response.writeHead(416, { 'content-range': `bytes */${entry.size}`, 'x-cache': 'HIT', 'content-length': 0 });
    return withoutBody(endWith(response, null));
  }
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end : entry.size - 1;
  if (range.kind === 'range') headers['content-range'] = `bytes ${start}-${end}/${entry.size}`;
  headers['content-length'] = end - start + 1;
  response.writeHead(range.kind === 'range' ? 206 : 200, headers);
  if (method === 'HEAD' || end < start) return withoutBody(endWith(response, null));
  const body = image.bytes ? endWith(response, image.bytes.subarray(start, end + 1)) : sendFileRange(response, image.fd, start, end);
  return body.then((result) => ({ ...result, withBody: true }));
}

function withoutBody(result: Promise<BodyResult>): Promise<HitResult> {
  return result.then((body) => ({ ...body, withBody: false }));
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
