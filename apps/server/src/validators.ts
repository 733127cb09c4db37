import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { contentMd5Header } from './origin-checksum.js';
import { matchesIfNoneMatch } from './range.js';

/**
 * What a response says about the image it carries. Hits and fills build it from the same
 * inputs (the checksum the image is recorded under, the time its fill began), so a client
 * sees the same validators for the same bytes whichever of them answers.
 */
export interface Representation {
  /** The recorded `algorithm:hex` checksum, when known before the first byte. */
  checksum: string | undefined;
  /** Last modification in ms (the fill's start, which the committed entry keeps). */
  lastModified: number;
}

/** The outcome of a request's preconditions (RFC 9110 §13.2.2, for GET and HEAD). */
export type Precondition = 'proceed' | 'not-modified' | 'failed';

/** The strong entity tag of a recorded checksum: `"sha256:…"`, `"md5:…"`. */
export function entityTag(checksum: string): string {
  return `"${checksum}"`;
}

/** An HTTP-date (second resolution, RFC 9110 §5.6.7). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * The headers that describe the image whatever the status: `ETag` (when the checksum is
 * known), `Last-Modified`, `Accept-Ranges` and `Content-MD5` (hex, Glance's format, when
 * the recorded checksum is md5).
 */
export function representationHeaders(representation: Representation): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'accept-ranges': 'bytes',
    'last-modified': httpDate(representation.lastModified),
  };
  if (representation.checksum) {
    headers.etag = entityTag(representation.checksum);
    const md5 = contentMd5Header(representation.checksum);
    if (md5) headers['content-md5'] = md5;
  }
  return headers;
}

/**
 * The status and headers of a request whose preconditions stopped it: 304 with the
 * validators (RFC 9110 §15.4.5), or 412 with an empty body.
 */
export function preconditionAnswer(
  precondition: Exclude<Precondition, 'proceed'>,
  described: OutgoingHttpHeaders,
  xCache: string,
): { status: number; headers: OutgoingHttpHeaders } {
  if (precondition === 'failed') return { status: 412, headers: { 'content-length': 0, 'x-cache': xCache } };
  const headers: OutgoingHttpHeaders = { 'x-cache': xCache };
  for (const name of ['etag', 'last-modified'] as const)
    if (described[name] !== undefined) headers[name] = described[name];
  return { status: 304, headers };
}

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the
 * order of RFC 9110 §13.2.2: `failed` (412) when If-Match or If-Unmodified-Since is
 * false, `not-modified` (304) when If-None-Match matches, or, without If-None-Match, when
 * the image has not changed since If-Modified-Since. Dates compare at second resolution,
 * as Last-Modified is sent; an invalid date is ignored (§13.1.3, §13.1.4).
 */
export function evaluatePreconditions(headers: IncomingHttpHeaders, representation: Representation): Precondition {
  const etag = representation.checksum ? entityTag(representation.checksum) : undefined;
  const modifiedSecond = Math.floor(representation.lastModified / 1000);
  const ifMatch = single(headers['if-match']);
  if (ifMatch !== undefined) {
    if (!matchesIfMatch(ifMatch, etag)) return 'failed';
  } else {
    const since = parseDate(single(headers['if-unmodified-since']));
    if (since !== undefined && modifiedSecond > since) return 'failed';
  }
  const ifNoneMatch = single(headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    const matches = etag === undefined ? ifNoneMatch.trim() === '*' : matchesIfNoneMatch(ifNoneMatch, etag);
    return matches ? 'not-modified' : 'proceed';
  }
  const since = parseDate(single(headers['if-modified-since']));
  return since !== undefined && modifiedSecond <= since ? 'not-modified' : 'proceed';
}

/** If-Match: `*`, or a strong match of one listed tag (RFC 9110 §13.1.1). */
function matchesIfMatch(header: string, etag: string | undefined): boolean {
  if (header.trim() === '*') return true;
  return etag !== undefined && header.split(',').some((candidate) => candidate.trim() === etag);
}

/** Whole seconds since the epoch of an HTTP-date, or undefined when it is not one. */
function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
