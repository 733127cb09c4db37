import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidChecksumError, parseContentMd5 } from '../src/index.js';

const digest = createHash('md5').update('hello').digest();

describe('parseContentMd5', () => {
  it('reads RFC 1864 base64, with or without padding, and hex in any case', () => {
    const expected = `md5:${digest.toString('hex')}`;
    expect(parseContentMd5(digest.toString('base64'))).toBe(expected);
    expect(parseContentMd5(digest.toString('base64').replace(/=+$/, ''))).toBe(expected);
    expect(parseContentMd5(` ${digest.toString('hex').toUpperCase()} `)).toBe(expected);
  });

  it.each([
    '',
    'garbage',
    digest.toString('hex').slice(1),
    digest.toString('base64').replace('==', '='),
    `${digest.toString('base64').slice(0, 21)}B==`,
    Buffer.alloc(20).toString('base64'),
  ])('refuses %j with InvalidChecksumError', (value) => {
    expect(() => parseContentMd5(value)).toThrow(InvalidChecksumError);
  });
});
