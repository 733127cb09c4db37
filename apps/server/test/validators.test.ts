import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, representationHeaders } from '../src/validators.js';

describe('preconditions (RFC 9110 §13.2.2)', () => {
  // 12:00:00.700: Last-Modified is sent at whole seconds, so 12:00:00 has not been modified since.
  const lastModified = Date.UTC(2026, 0, 2, 12, 0, 0, 700);
  const date = (seconds: number) => new Date(Date.UTC(2026, 0, 2, 12, 0, seconds)).toUTCString();
  const known = { checksum: 'md5:0123456789abcdef0123456789abcdef', lastModified };
  const unknown = { checksum: undefined, lastModified };
  const etag = '"md5:0123456789abcdef0123456789abcdef"';

  it('compares If-Modified-Since and If-Unmodified-Since at whole seconds', () => {
    expect(evaluatePreconditions({ 'if-modified-since': date(0) }, known)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': date(-1) }, known)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-unmodified-since': date(0) }, known)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-unmodified-since': date(-1) }, known)).toBe('failed');
    expect(evaluatePreconditions({ 'if-modified-since': 'yesterday-ish' }, known)).toBe('proceed');
  });

  it('evaluates in order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since', () => {
    expect(evaluatePreconditions({ 'if-match': '"other"', 'if-none-match': etag }, known)).toBe('failed');
    expect(evaluatePreconditions({ 'if-match': `"x", ${etag}`, 'if-unmodified-since': date(-60) }, known)).toBe(
      'proceed',
    );
    expect(evaluatePreconditions({ 'if-match': `W/${etag}` }, known)).toBe('failed');
    expect(evaluatePreconditions({ 'if-none-match': `W/${etag}`, 'if-modified-since': date(-60) }, known)).toBe(
      'not-modified',
    );
    expect(evaluatePreconditions({ 'if-none-match': '"other"', 'if-modified-since': date(60) }, known)).toBe('proceed');
  });

  it('matches no tag when the ETag is not known yet, but `*` still means "the image exists"', () => {
    expect(evaluatePreconditions({ 'if-none-match': etag }, unknown)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-none-match': ', ' }, unknown)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-none-match': '*' }, unknown)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-match': etag }, unknown)).toBe('failed');
    expect(evaluatePreconditions({ 'if-match': '*' }, unknown)).toBe('proceed');
  });

  it('describes the image: hex Content-MD5 only for an md5, no ETag while the checksum is unknown', () => {
    expect(representationHeaders(known)).toEqual({
      'accept-ranges': 'bytes',
      'last-modified': date(0),
      etag,
      'content-md5': '0123456789abcdef0123456789abcdef',
    });
    expect(
      representationHeaders({ checksum: `sha256:${'a'.repeat(64)}`, lastModified })['content-md5'],
    ).toBeUndefined();
    expect(representationHeaders(unknown)).toEqual({ 'accept-ranges': 'bytes', 'last-modified': date(0) });
  });
});
