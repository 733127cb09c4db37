import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes as fixtureBytes } from './fixtures/images.mjs';

const fixture = fixtureBytes as (imageId: string) => Buffer;

export interface OriginOptions {
  /** Bytes per write of an image body. Default 64 KiB. */
  chunkSize?: number;
  /** Pause between writes of an image body, so downloads take a while. Default 0. */
  chunkDelayMs?: number;
  /** Honour `Range: bytes=N-` on image data with a 206. Default true. */
  ranges?: boolean;
  /** Images served instead of the fixture's bytes for these ids (e.g. a large one). */
  images?: Map<string, Buffer>;
}

/**
 * A small Glance API on 127.0.0.1: `/v2/images/{id}` answers metadata (md5 `checksum`,
 * sha512 `os_hash_value`, `size`) and `/v2/images/{id}/file` the bytes of the shared
 * fixture's `imageBytes(id)`, optionally throttled. Counts data requests per image.
 */
export class TestOrigin {
  readonly dataRequests = new Map<string, number>();
  readonly rangeRequests: string[] = [];
  url = '';
  private readonly server: Server;
  private readonly digests = new Map<string, { md5: string; sha512: string }>();

  constructor(readonly options: OriginOptions = {}) {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch(() => response.destroy());
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private imageBytes(imageId: string): Buffer {
    return this.options.images?.get(imageId) ?? fixture(imageId);
  }

  private digest(imageId: string): { md5: string; sha512: string } {
    let known = this.digests.get(imageId);
    if (!known) {
      const data = this.imageBytes(imageId);
      known = { md5: createHash('md5').update(data).digest('hex'), sha512: createHash('sha512').update(data).digest('hex') };
      this.digests.set(imageId, known);
    }
    return known;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://origin').pathname;
    const file = /^\/v2\/images\/([^/]+)\/file$/.exec(path);
    const meta = /^\/v2\/images\/([^/]+)$/.exec(path);
    let imageId = '';
    try {
      imageId = decodeURIComponent((file ?? meta)?.[1] ?? '');
    } catch {
      // A malformed escape names no image.
    }
    if (!imageId) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    if (meta) {
      const { md5, sha512 } = this.digest(imageId);
      const body = JSON.stringify({ id: imageId, status: 'active', size: this.imageBytes(imageId).length, checksum: md5, os_hash_algo: 'sha512', os_hash_value: sha512 });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    this.dataRequests.set(imageId, (this.dataRequests.get(imageId) ?? 0) + 1);
    const data = this.imageBytes(imageId);
    const range = /^bytes=(\d+)-$/.exec(String(request.headers.range ?? ''));
    let start = 0;
    if (range && this.options.ranges !== false && Number(range[1]) < data.length) {
      start = Number(range[1]);
      this.rangeRequests.push(`${imageId}:${start}`);
      response.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': data.length - start,
        'content-range': `bytes ${start}-${data.length - 1}/${data.length}`,
      });
    } else {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'content-md5': this.digest(imageId).md5 });
    }
    if (request.method === 'HEAD') return void response.end();
    const chunkSize = this.options.chunkSize ?? 64 * 1024;
    const delay = this.options.chunkDelayMs ?? 0;
    for (let offset = start; offset < data.length; offset += chunkSize) {
      if (response.destroyed) return;
      if (!response.write(data.subarray(offset, offset + chunkSize))) await drainedOrClosed(response);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    }
    response.end();
  }
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done).off('close', done);
      resolve();
    };
    response.on('drain', done).on('close', done);
  });
}
