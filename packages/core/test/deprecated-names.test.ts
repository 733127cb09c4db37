import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FillStartResult } from '../src/index.js';
import { bytes, chunked, collect, digest, openCache } from './helpers.js';

// Names kept until 1.0 for code written against the old ones (docs/glossary.md has the new ones).
describe('deprecated names', () => {
  it('Fill.tempPath is the work file, in incomplete/', async () => {
    const cache = await openCache();
    const data = bytes(200_000, 31);
    const outcome = await cache.fill(
      'img',
      async (): Promise<FillStartResult<never>> => ({
        source: { body: chunked(data, 50_000), size: data.length, checksum: digest('sha256', data) },
      }),
    );
    if (outcome.kind !== 'joined') throw new Error(`unexpected ${outcome.kind}`);
    expect(outcome.fill.tempPath).toBe(outcome.fill.workFilePath);
    expect(dirname(outcome.fill.workFilePath)).toBe(cache.layout.incompleteDir);
    expect(basename(outcome.fill.workFilePath)).toMatch(/^img~\d+-[0-9a-f]+$/);
    expect((await collect(outcome.fill.read())).equals(data)).toBe(true);
  });
});
