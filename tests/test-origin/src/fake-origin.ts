import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { glanceDataRefusal, type FakeImage } from './fake-image.js';
import { byteRange, glanceDocument, glanceRoute } from './glance.js';

export interface FakeOriginOptions {
  /**
   * The image for an id that is not in {@link FakeOrigin.images} (asked once per id), or
   * undefined for a 404: e.g. deterministic bytes for any id, which child processes can
   * recompute.
   */
  imageFor?: (imageId: string) => FakeImage | undefined;
  /** Bytes per write of an image body, unless the image says otherwise. Default 64 KiB. */
  chunkSize?: number;
  /** Pause between writes of an image body, unless the image says otherwise. Default 0. */
  chunkDelayMs?: number;
  /** Honour `Range: bytes=N-` and `bytes=N-M` on image data with a 206. Default true. */
  ranges?: boolean;
}

export interface RecordedUpload {
  imageId: string;
  headers: IncomingMessage['headers'];
  length: number;
  sha256: string;
}

/**
 * A Glance v2 API on 127.0.0.1 with an ephemeral port, per-image behaviour (latency,
 * gates, failures, lying checksums, Glance image states, tokens, gzip) and request
 * counters. Routes: `/versions`, `/v2/images` (list), `/v2/images/{id}` (metadata,
 * DELETE), `/v2/images/{id}/file` (GET, HEAD, Range, PUT uploads), and `/blobs/{id}`
 * (the same data, for a template origin `{url}/blobs/{id}`). For bodies that lie about
 * their own framing, which node:http cannot send, see {@link RawOrigin}.
 */
export class FakeOrigin {
  readonly images = new Map<string, FakeImage>();
  /** GET requests for image data, per image (refused ones included). */
  readonly dataRequests = new Map<string, number>();
  readonly metadataRequests = new Map<string, number>();
  readonly headRequests = new Map<string, number>();
  /** `imageId:start` of each data request answered with a 206. */
  readonly rangeRequests: string[] = [];
  /** Images whose data response was sent completely, in order. */
  readonly finished: string[] = [];
  readonly uploads: RecordedUpload[] = [];
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  /** X-Auth-Token values Glance would treat as admin (they may download deactivated images). */
  readonly adminTokens = new Set<string>();
  /** When set, only requests with this `Host` are served (404 otherwise), as a name-based virtual host. */
  virtualHost: string | undefined;
  /**
   * An outage: every request is answered with this status (a JSON error body), or never
   * answered at all (`'silent'`, the connection stays open), until set back to undefined.
   */
  outage: number | 'silent' | undefined;
  /** Answer `HEAD` on image data (Glance itself answers 405: its data route takes GET and PUT). */
  allowHead = true;
  url = '';
  private readonly server: Server;
  private readonly generated = new Map<string, FakeImage | undefined>();

  constructor(readonly options: FakeOriginOptions = {}) {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch(() => response.destroy());
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops listening (connections are then refused); stopping a stopped origin does nothing. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  add(imageId: string, image: FakeImage): FakeImage {
    this.images.set(imageId, image);
    return image;
  }

  count(map: Map<string, number>, imageId: string): number {
    return map.get(imageId) ?? 0;
  }

  /** The image an id names: an added one, else the `imageFor` option's. */
  image(imageId: string): FakeImage | undefined {
    const added = this.images.get(imageId);
    if (added || !this.options.imageFor) return added;
    if (!this.generated.has(imageId)) this.generated.set(imageId, this.options.imageFor(imageId));
    return this.generated.get(imageId);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://origin');
    const method = request.method ?? 'GET';
    this.seen.push({ method, url: request.url ?? '/', headers: request.headers });
    if (this.outage === 'silent') return;
    if (this.outage !== undefined) return json(response, this.outage, { message: `outage: ${this.outage}` });
    if (this.virtualHost !== undefined && request.headers.host !== this.virtualHost) {
      return json(response, 404, { message: `no virtual host ${String(request.headers.host)}` });
    }
    // Links are built as Glance builds them with enable_proxy_headers_parsing: from X-Forwarded-Host, else Host.
    const linkHost = String(request.headers['x-forwarded-host'] ?? request.headers.host);
    if (url.pathname === '/versions' && method === 'GET') {
      return json(response, 200, {
        versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ href: `http://${linkHost}/v2/`, rel: 'self' }] }],
      });
    }
    if (url.pathname === '/v2/images' && method === 'GET') {
      return json(response, 200, {
        images: [...this.images.keys()].map((id) => ({ id })),
        first: `http://${linkHost}/v2/images`,
      });
    }
    const route = glanceRoute(url.pathname);
    if (!route) return json(response, 404, { message: 'not found' });
    const { imageId } = route;
    if (route.kind === 'data' && method === 'PUT') return this.upload(imageId, request, response);
    const image = this.image(imageId);
    const token = String(request.headers['x-auth-token']);
    if (route.kind === 'metadata' && method === 'DELETE') {
      if (image?.allowedTokens && !image.allowedTokens.includes(token))
        return json(response, 403, { message: 'forbidden' });
      return void response.writeHead(this.images.delete(imageId) ? 204 : 404).end();
    }
    if (!image) return json(response, 404, { message: 'image not found' });
    if (image.allowedTokens && !image.allowedTokens.includes(token))
      return json(response, 403, { message: 'forbidden' });
    if (route.kind === 'metadata' && method === 'GET') {
      bump(this.metadataRequests, imageId);
      if (image.metadata === false) return json(response, 404, { message: 'no metadata here' });
      return json(
        response,
        200,
        glanceDocument(imageId, { size: image.data.length, status: image.imageStatus, checksummed: advertised(image) }),
      );
    }
    if (route.kind === 'data' && (method === 'GET' || method === 'HEAD')) {
      bump(method === 'GET' ? this.dataRequests : this.headRequests, imageId);
      const refused = glanceDataRefusal(image, this.adminTokens.has(token));
      if (refused?.status === 204) return void response.writeHead(204).end();
      if (refused) return json(response, refused.status, { message: refused.message });
      if (method === 'GET') return this.sendData(imageId, image, request, response);
      if (!this.allowHead) return void response.writeHead(405, { allow: 'GET, PUT' }).end();
      return this.answerHead(image, request, response);
    }
    response.writeHead(405).end();
  }

  /** Like nginx and most stores, a Range on a HEAD is answered as it would be on a GET. */
  private answerHead(image: FakeImage, request: IncomingMessage, response: ServerResponse): void {
    const size = image.data.length;
    const range = this.options.ranges === false ? null : byteRange(request.headers.range, size);
    if (range === 'unsatisfiable') return void response.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    if (range) {
      const headers = {
        'content-length': range.end - range.start + 1,
        'content-range': `bytes ${range.start}-${range.end}/${size}`,
        'content-type': 'application/octet-stream',
      };
      return void response.writeHead(206, headers).end();
    }
    response
      .writeHead(image.status ?? 200, { 'content-length': size, 'content-type': 'application/octet-stream' })
      .end();
  }

  private async sendData(
    imageId: string,
    image: FakeImage,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    if (image.status && image.status !== 200)
      return json(response, image.status, { message: `status ${image.status}` });
    let body = image.data;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    const range = this.options.ranges === false ? null : byteRange(request.headers.range, body.length);
    let status = 200;
    if (range === 'unsatisfiable')
      return void response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    if (range) {
      body = body.subarray(range.start, range.end + 1);
      headers['content-range'] = `bytes ${range.start}-${range.end}/${image.data.length}`;
      status = 206;
      this.rangeRequests.push(`${imageId}:${range.start}`);
    } else if (image.contentMd5 !== false) {
      headers['content-md5'] = createHash('md5')
        .update(advertised(image))
        .digest(image.contentMd5 === 'base64' ? 'base64' : 'hex');
    }
    if (image.gzip) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.length;
    response.writeHead(status, headers);
    const chunkSize = image.chunkSize ?? this.options.chunkSize ?? 64 * 1024;
    const chunkDelayMs = image.chunkDelayMs ?? this.options.chunkDelayMs ?? 0;
    let sent = 0;
    let gated = false;
    while (sent < body.length) {
      if (image.gate && !gated && sent >= image.gate.afterBytes) {
        gated = true;
        image.gate.reached?.();
        await image.gate.release;
      }
      if (image.failAfterBytes !== undefined && sent >= image.failAfterBytes) return void response.destroy();
      if (response.destroyed) return;
      const chunk = body.subarray(sent, sent + chunkSize);
      sent += chunk.length;
      if (!response.write(chunk)) await drainedOrClosed(response);
      if (chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, chunkDelayMs));
      if (response.destroyed) return;
    }
    response.end(() => this.finished.push(imageId));
  }

  private async upload(imageId: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of request) {
      hash.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    this.uploads.push({ imageId, headers: request.headers, length, sha256: hash.digest('hex') });
    response.writeHead(204).end();
  }
}

/** The bytes whose checksums the origin announces: the image's, or others when it lies. */
function advertised(image: FakeImage): Buffer {
  return image.wrongChecksum ? Buffer.concat([image.data, Buffer.from('x')]) : image.data;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

/** Resolves when the response can take more bytes, or when its client has gone. */
function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done).off('close', done);
      resolve();
    };
    response.on('drain', done).on('close', done);
  });
}
