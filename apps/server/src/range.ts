/** The outcome of reading a `Range` header against a representation of `size` bytes. */
export type RangeResult =
  /** No usable single range: send the whole body. */
  { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Parses a single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`). Multiple ranges and
 * malformed headers are ignored, which RFC 9110 §14.2 allows: the whole body is sent.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'none' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'none' };
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end };
}

/** True when an If-None-Match header matches the entity tag (weak comparison, RFC 9110 §13.1.2). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = stripWeak(etag);
  return header.split(',').some((candidate) => stripWeak(candidate.trim()) === opaque);
}

/**
 * True when a Range request may be honoured under its If-Range header: no If-Range, or
 * one naming the current strong entity tag or exact Last-Modified date. Without a known
 * entity tag, no tag matches.
 */
export function ifRangeAllows(header: string | undefined, etag: string | undefined, lastModified: string): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"')) return etag !== undefined && value === etag;
  if (value.startsWith('W/')) return false;
  return value === lastModified;
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
