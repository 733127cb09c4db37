import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OpenImage } from '@imgcache/core';
import { endWith, sendFileRange, type BodyResult } from './body-writer.js';
import { ifRangeAllows, parseRange } from './range.js';
import { evaluatePreconditions, preconditionAnswer, representationHeaders } from './validators.js';

const OCTET_STREAM = 'application/octet-stream';

/** What a hit response carried, for metrics and hit accounting. */
export interface HitResult extends BodyResult {
  /** True when a body was sent (GET 200 or 206), so a completed one counts as a hit. */
  withBody: boolean;
  /** Bytes handed to nginx to send (X-Accel-Redirect); 0 when this server sent the body. */
  offloaded: number;
}

/** A request header that asks for the body from this server, never an offload (nginx's fallback sets it). */
export const ACCEL_OFF_HEADER = 'x-imgcache-accel';

/**
 * Answers a GET or HEAD from a committed image: validators (ETag from the recorded
 * checksum, Last-Modified from the entry, see {@link representationHeaders}), the
 * preconditions of RFC 9110 §13.2.2 (304, 412), a single Range → 206 or 416 (GET only:
 * RFC 9110 §14.2 defines Range for GET, so a HEAD answers as its GET without Range would),
 * If-Range, and Content-MD5 when the image is recorded under its md5. The body comes from
 * memory for small images, else from the open descriptor; or, with `accelRedirect` set,
 * from nginx: a GET is answered with `X-Accel-Redirect: <prefix><image id>` and no body, and
 * nginx sends the file and applies the same Range itself. Conditional requests (nginx would
 * judge If-* headers by its own validators, not this image's) and requests carrying
 * {@link ACCEL_OFF_HEADER} get their body from here.
 */
export function sendHit(
  method: string,
  requestHeaders: IncomingHttpHeaders,
  response: ServerResponse,
  image: OpenImage,
  accelRedirect: string | null = null,
): Promise<HitResult> {
  const { entry } = image;
  const representation = { checksum: entry.checksum, lastModified: entry.lastModified };
  const described = representationHeaders(representation);
  const precondition = evaluatePreconditions(requestHeaders, representation);
  if (precondition !== 'proceed') {
    const answer = preconditionAnswer(precondition, described, 'HIT');
    response.writeHead(answer.status, answer.headers);
    return withoutBody(endWith(response, null));
  }
  const headers: OutgoingHttpHeaders = { 'content-type': OCTET_STREAM, ...described, 'x-cache': 'HIT' };
  const range =
    method === 'GET' &&
    ifRangeAllows(first(requestHeaders['if-range']), String(described.etag), String(described['last-modified']))
      ? parseRange(first(requestHeaders.range), entry.size)
      : ({ kind: 'none' } as const);
  if (range.kind === 'unsatisfiable') {
    response.writeHead(416, { 'content-range': `bytes */${entry.size}`, 'x-cache': 'HIT', 'content-length': 0 });
    return withoutBody(endWith(response, null));
  }
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end : entry.size - 1;
  if (accelRedirect !== null && method === 'GET' && offloadable(requestHeaders)) {
    // nginx copies Accept-Ranges from this answer, and adds its own to a whole file (not to a 206).
    const { 'accept-ranges': ranges, ...offload } = headers;
    response.writeHead(200, {
      ...offload,
      ...(range.kind === 'range' ? { 'accept-ranges': ranges } : {}),
      'x-accel-redirect': `${accelRedirect}${image.imageId}`,
      'content-length': 0,
    });
    return endWith(response, null).then((result) => ({
      ...result,
      withBody: true,
      offloaded: Math.max(0, end - start + 1),
    }));
  }
  if (range.kind === 'range') headers['content-range'] = `bytes ${start}-${end}/${entry.size}`;
  headers['content-length'] = end - start + 1;
  response.writeHead(range.kind === 'range' ? 206 : 200, headers);
  if (method === 'HEAD' || end < start) return withoutBody(endWith(response, null));
  const body = image.bytes
    ? endWith(response, image.bytes.subarray(start, end + 1))
    : sendFileRange(response, image.fd, start, end);
  return body.then((result) => ({ ...result, withBody: true, offloaded: 0 }));
}

/** RFC 9110 §13.1 preconditions, each of which nginx would judge by its own validators. */
const PRECONDITIONS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range'];

function offloadable(headers: IncomingHttpHeaders): boolean {
  return headers[ACCEL_OFF_HEADER] === undefined && PRECONDITIONS.every((name) => headers[name] === undefined);
}

function withoutBody(result: Promise<BodyResult>): Promise<HitResult> {
  return result.then((body) => ({ ...body, withBody: false, offloaded: 0 }));
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
