import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawOrigin, type Lie, type RawImage } from '@imgcache/test-origin';
import { startHarness, randomImage, waitFor, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

type OriginKind = 'glance' | 'template';

interface Case {
  name: string;
  origin: OriginKind;
  image: Omit<RawImage, 'data'>;
}

/**
 * Every combination of: Content-Length or chunked, shorter or longer, checksums announced
 * or not, Glance or template origin. Chunked bodies that end properly but short or long
 * are lies only where something announced the size or checksum (Glance metadata always
 * announces the size); where nothing is announced, the lie is in the framing.
 */
function cases(): Case[] {
  const list: Case[] = [];
  for (const origin of ['glance', 'template'] as const) {
    for (const contentLength of [true, false]) {
      for (const checksum of [true, false]) {
        const announced = origin === 'glance' || checksum;
        const lies: Lie[] = contentLength
          ? ['short-cut', 'long-trailing']
          : ['short-cut', 'long-trailing', ...(announced ? (['short-terminated', 'long-framed'] as const) : [])];
        for (const lie of lies) {
          const name = `${origin}, ${contentLength ? 'Content-Length' : 'chunked'}, ${checksum ? 'checksum' : 'no checksum'}, ${lie}`;
          list.push({ name, origin, image: { contentLength, checksum, lie } });
        }
      }
    }
  }
  return list;
}

/** The client's view of one download: a failure (reset, incomplete, or an error status before any byte) or a complete body. */
async function outcome(url: string): Promise<{ failed: boolean; detail: string }> {
  try {
    const response = await send(url);
    return {
      failed: response.status >= 500,
      detail: `${response.status} with ${response.body.length} bytes (${String(response.headers['x-cache'])})`,
    };
  } catch (error) {
    return { failed: true, detail: (error as Error).message };
  }
}

describe('an origin body that differs from what was announced', () => {
  const raw = new RawOrigin();
  const harnesses = new Map<OriginKind, Harness>();
  let counter = 0;

  beforeAll(async () => {
    await raw.start();
    harnesses.set('glance', await startHarness({ origin: raw.url, public: true }));
    harnesses.set('template', await startHarness({ origin: `${raw.url}/blobs/{id}`, public: true }));
  });
  afterAll(async () => {
    for (const harness of harnesses.values()) await harness.stop();
    await raw.stop();
  });

  it.each(cases().map((entry) => [entry.name, entry] as const))(
    'fails the client and caches nothing: %s',
    async (_name, { origin, image }) => {
      const h = harnesses.get(origin)!;
      const imageId = `lie-${++counter}`;
      raw.images.set(imageId, { ...image, data: randomImage(200 * 1024) });
      const result = await outcome(h.url(`/v2/images/${imageId}/file`));
      expect(result.failed, result.detail).toBe(true);
      expect(await h.server.cache.isCached(imageId)).toBe(false);
      await waitFor(async () => (await readdir(join(h.dir, 'incomplete'))).length === 0);
      expect(await readdir(join(h.dir, 'images'))).not.toContain(imageId);
      // The same image, sent honestly, is cached: the failure left nothing in the way.
      raw.images.set(imageId, { ...image, lie: undefined, data: raw.images.get(imageId)!.data });
      const honest = await send(h.url(`/v2/images/${imageId}/file`));
      expect(honest.status).toBe(200);
      expect(honest.body.equals(raw.images.get(imageId)!.data)).toBe(true);
    },
  );

  it('answers 502 before any byte when Content-Length and the metadata size disagree, and caches nothing', async () => {
    const h = harnesses.get('glance')!;
    const data = randomImage(50_000);
    raw.images.set('disagree', { data, contentLength: true, checksum: true, metadataSize: data.length + 1 });
    const response = await send(h.url('/v2/images/disagree/file'));
    expect(response.status).toBe(502);
    expect(JSON.parse(response.body.toString()).error.message).toMatch(
      /Content-Length is 50000 bytes, its metadata says 50001/,
    );
    expect(await h.server.cache.isCached('disagree')).toBe(false);
  });
});
