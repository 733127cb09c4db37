import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ifRangeAllows, matchesIfNoneMatch, parseRange } from '../src/range.js';

describe('parseRange', () => {
  it('parses the single-range forms', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'range', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ kind: 'range', start: 50, end: 99 });
  });

  it('reports unsatisfiable ranges and ignores the rest', () => {
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange(undefined, 100)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'none' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=9-1', 100)).toEqual({ kind: 'none' });
  });

  it('always yields a range inside the representation', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.option(fc.nat(20_000)), fc.option(fc.nat(20_000)), (size, start, end) => {
        const header = `bytes=${start ?? ''}-${end ?? ''}`;
        const result = parseRange(header, size);
        if (result.kind === 'range') {
          expect(result.start).toBeGreaterThanOrEqual(0);
          expect(result.end).toBeLessThan(size);
          expect(result.start).toBeLessThanOrEqual(result.end);
        }
      }),
    );
  });
});

describe('validators', () => {
  it('matches If-None-Match lists, wildcards and weak tags', () => {
    expect(matchesIfNoneMatch('"a", "b"', '"b"')).toBe(true);
    expect(matchesIfNoneMatch('W/"b"', '"b"')).toBe(true);
    expect(matchesIfNoneMatch('*', '"b"')).toBe(true);
    expect(matchesIfNoneMatch('"c"', '"b"')).toBe(false);
    expect(matchesIfNoneMatch(undefined, '"b"')).toBe(false);
  });

  it('honours If-Range by strong tag or exact date only', () => {
    const date = new Date(0).toUTCString();
    expect(ifRangeAllows(undefined, '"x"', date)).toBe(true);
    expect(ifRangeAllows('"x"', '"x"', date)).toBe(true);
    expect(ifRangeAllows('W/"x"', '"x"', date)).toBe(false);
    expect(ifRangeAllows(date, '"x"', date)).toBe(true);
    expect(ifRangeAllows('"y"', '"x"', date)).toBe(false);
  });
});
