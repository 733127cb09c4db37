import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration } from '../../src/format/format-age.js';

const now = new Date('2026-01-10T12:00:00Z');
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

describe('formatAge', () => {
  it.each([
    [0, 'just now'],
    [4, 'just now'],
    [42, '42 s ago'],
    [60, '1 min ago'],
    [3 * 60 + 59, '3 min ago'],
    [5 * 3600, '5 h ago'],
    [86_400, '1 day ago'],
    [2 * 86_400, '2 days ago'],
    [120 * 86_400, '4 months ago'],
    [3 * 365 * 86_400, '3 years ago'],
    [-180, 'in 3 min'],
  ])('%d s ago reads %s', (seconds, expected) => {
    expect(formatAge(ago(seconds), now)).toBe(expected);
  });

  it('says unknown for an invalid date', () => {
    expect(formatAge(new Date(Number.NaN), now)).toBe('unknown');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [90, '90 s'],
    [1800, '30 min'],
    [3600, '1 h'],
    [86_400, '1 day'],
    [172_800, '2 days'],
    [1.5, '1.5 s'],
  ])('%d s reads %s', (seconds, expected) => {
    expect(formatDuration(seconds)).toBe(expected);
  });
});
