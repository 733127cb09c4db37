import { describe, expect, it } from 'vitest';
import { parseCacheListing, parseDeletedCount } from '../../src/remote/glance-listing.js';

describe('parseCacheListing', () => {
  it('maps Glance-shaped entries to exact bytes and millisecond dates', () => {
    const listing = parseCacheListing({
      cached_images: [
        {
          image_id: 'img-1',
          hits: 3,
          last_accessed: 1_764_000_000.123,
          last_modified: 1_763_000_000,
          size: 1_288_490_189,
        },
      ],
      queued_images: ['q-1', 'q-2'],
    });
    expect(listing).toEqual({
      cachedImages: [
        {
          imageId: 'img-1',
          size: 1_288_490_189,
          hits: 3,
          lastAccessed: new Date(1_764_000_000_123),
          lastModified: new Date(1_763_000_000_000),
          checksum: null,
        },
      ],
      queuedImages: ['q-1', 'q-2'],
    });
  });

  it.each([
    [null, /the body is not a JSON object/],
    [{ cached_images: {}, queued_images: [] }, /cached_images is not a list/],
    [{ cached_images: [], queued_images: [1] }, /queued_images is not a list of ids/],
    [
      { cached_images: [{ image_id: 'a', hits: 0, last_accessed: 1, last_modified: 1, size: -1 }], queued_images: [] },
      /cached_images\[0\]\.size/,
    ],
    [
      {
        cached_images: [{ image_id: 'a', hits: 0, last_accessed: '2026-01-01', last_modified: 1, size: 1 }],
        queued_images: [],
      },
      /cached_images\[0\]\.last_accessed/,
    ],
  ])('rejects %j', (body, message) => {
    expect(() => parseCacheListing(body)).toThrow(message);
  });
});

describe('parseDeletedCount', () => {
  it('reads num_deleted', () => {
    expect(parseDeletedCount({ num_deleted: 4 })).toBe(4);
  });

  it.each([null, {}, { num_deleted: -1 }, { num_deleted: '4' }])('rejects %j', (body) => {
    expect(() => parseDeletedCount(body)).toThrow(/num_deleted|JSON object/);
  });
});
