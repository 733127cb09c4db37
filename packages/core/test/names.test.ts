import { describe, expect, it } from 'vitest';
import {
  MAX_KEY_LENGTH,
  MAX_NAME_BYTES,
  nameKey,
  parseQuarantineName,
  parseWorkFileName,
  quarantineName,
  workFileName,
} from '../src/names.js';
import type { QuarantineCause } from '../src/names.js';

const longest = 'x'.repeat(255);
const causes: QuarantineCause[] = ['failed', 'abandoned', 'foreign', 'resized', 'corrupt', 'orphan'];
const bytes = (name: string) => Buffer.byteLength(name);

describe('names derived from image ids', () => {
  it('fit the 255-byte name limit for the longest valid id, with the largest pid', () => {
    const names = [
      workFileName(longest, 4_294_967_295),
      workFileName(longest, 4_294_967_295, undefined, true),
      ...causes.map((cause) => quarantineName(longest, cause)),
      // A foreign file name of 255 bytes, made of multi-byte characters.
      quarantineName('é'.repeat(127), 'foreign'),
    ];
    for (const name of names) expect(bytes(name)).toBeLessThanOrEqual(MAX_NAME_BYTES);
  });

  it('keep an id whole up to the key length, and shorten longer ones deterministically', () => {
    const whole = 'y'.repeat(MAX_KEY_LENGTH);
    expect(nameKey(whole)).toBe(whole);
    const key = nameKey(longest);
    expect(key).toHaveLength(MAX_KEY_LENGTH);
    expect(key).toMatch(/^x{167}#[0-9a-f]{32}$/);
    expect(nameKey(longest)).toBe(key);
    // Ids that share a long prefix still get different keys.
    expect(nameKey(`${'x'.repeat(254)}y`)).not.toBe(key);
  });

  it('parse back to the key and pid that claims are compared by', () => {
    expect(parseWorkFileName(workFileName('img-1', 42, 'abc123'))).toEqual({ key: 'img-1', pid: 42, lock: false });
    expect(parseWorkFileName(workFileName('img-1', 42, 'abc123', true))).toEqual({ key: 'img-1', pid: 42, lock: true });
    expect(parseWorkFileName(workFileName(longest, 7))).toMatchObject({ key: nameKey(longest), pid: 7 });
    for (const foreign of ['plain', '~1-abc', 'img~x-abc', 'img~1-ABC', 'img~1-abc.tmp'])
      expect(parseWorkFileName(foreign)).toBeNull();
  });

  it('name quarantined files one way: key, cause, random part', () => {
    for (const cause of causes) {
      const name = quarantineName('img-1', cause);
      expect(name).toMatch(new RegExp(`^img-1~${cause}-[0-9a-f]{12}$`));
      expect(parseQuarantineName(name)).toEqual({ key: 'img-1', cause });
    }
    expect(quarantineName('img-1', 'corrupt')).not.toBe(quarantineName('img-1', 'corrupt'));
    expect(parseQuarantineName(quarantineName('bad name/..', 'foreign'))).toEqual({
      key: 'bad_name_..',
      cause: 'foreign',
    });
    expect(parseQuarantineName('img~0-orphan')).toBeNull();
    expect(parseQuarantineName('img~1-abc')).toBeNull();
  });
});
