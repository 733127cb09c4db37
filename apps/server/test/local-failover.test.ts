import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FillAbortedError } from '@imgcache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeFromOriginOnLocalFailure, isLocalWriteFailure } from '../src/local-failover.js';
import { Origin } from '../src/origin.js';
import { FakeOrigin } from './helpers/fake-origin.js';
import { randomImage } from './helpers/harness.js';

const data = randomImage(700 * 1024);
const sha512 = `sha512:${createHash('sha512').update(data).digest('hex')}`;

/** A follower that delivers the first `upTo` bytes, then fails the way a full disk does. */
async function* failingFollower(upTo: number, error: unknown = Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' })) {
  for (let offset = 0; offset < upTo; offset += 100_000) yield data.subarray(offset, Math.min(upTo, offset + 100_000));
  throw error;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

describe('completing a download from the origin when the cache disk fails', () => {
  let fake: FakeOrigin;
  let noRanges: Server;
  let noRangesUrl: string;
  const noRangeRequests: (string | undefined)[] = [];

  beforeAll(async () => {
    fake = await new FakeOrigin().start();
    fake.add('img', { data });
    // An origin that ignores Range and always sends the whole image.
    noRanges = createServer((request, response) => {
      noRangeRequests.push(request.headers.range);
      response.writeHead(200, { 'content-length': data.length }).end(data);
    });
    await new Promise<void>((resolve) => noRanges.listen(0, '127.0.0.1', resolve));
    noRangesUrl = `http://127.0.0.1:${(noRanges.address() as AddressInfo).port}/blobs/{id}`;
  });
  afterAll(async () => {
    await fake.stop();
    noRanges.closeAllConnections();
    await new Promise((resolve) => noRanges.close(resolve));
  });

  it('classifies disk errors as local, and origin errors, mismatches and cancels as not', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'EIO', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE']) expect(isLocalWriteFailure(Object.assign(new Error(code), { code }))).toBe(true);
    expect(isLocalWriteFailure(Object.assign(new Error('socket'), { code: 'UND_ERR_SOCKET' }))).toBe(false);
    expect(isLocalWriteFailure(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBe(false);
    expect(isLocalWriteFailure(new FillAbortedError('img'))).toBe(false);
    expect(isLocalWriteFailure(null)).toBe(false);
  });

  it('continues with Range: bytes=N- from an origin that honours it', async () => {
    const origin = new Origin(fake.url);
    const switched: number[] = [];
    const body = await collect(
      completeFromOriginOnLocalFailure(failingFollower(300_000), {
        origin,
        imageId: 'img',
        incoming: {},
        size: data.length,
        checksum: sha512,
        onFailover: (_error, sent) => switched.push(sent),
      }),
    );
    expect(body.equals(data)).toBe(true);
    expect(switched).toEqual([300_000]);
    expect(fake.seen.at(-1)?.headers.range).toBe('bytes=300000-');
    await origin.close();
  });

  it('skips the bytes already sent when the origin answers the whole image', async () => {
    const origin = new Origin(noRangesUrl);
    const body = await collect(
      completeFromOriginOnLocalFailure(failingFollower(250_000), { origin, imageId: 'img', incoming: {}, size: data.length, checksum: sha512, onFailover: () => undefined }),
    );
    expect(body.equals(data)).toBe(true);
    expect(noRangeRequests.at(-1)).toBe('bytes=250000-');
    await origin.close();
  });

  it('passes a failure that is not local through unchanged', async () => {
    const origin = new Origin(fake.url);
    const error = new FillAbortedError('img');
    await expect(
      collect(completeFromOriginOnLocalFailure(failingFollower(100_000, error), { origin, imageId: 'img', incoming: {}, size: data.length, checksum: sha512, onFailover: () => undefined })),
    ).rejects.toBe(error);
    await origin.close();
  });

  it('never ends a wrong body normally: a completed body that misses the checksum throws before its last chunk', async () => {
    const origin = new Origin(fake.url);
    const received: Buffer[] = [];
    const wrong = `sha512:${'0'.repeat(128)}`;
    const outcome = completeFromOriginOnLocalFailure(failingFollower(100_000), { origin, imageId: 'img', incoming: {}, size: data.length, checksum: wrong, onFailover: () => undefined });
    await expect(
      (async () => {
        for await (const chunk of outcome) received.push(Buffer.from(chunk));
      })(),
    ).rejects.toMatchObject({ code: 'ERR_IMGCACHE_ORIGIN' });
    expect(Buffer.concat(received).length).toBeLessThan(data.length);
    await origin.close();
  });
});
