import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/** How the fake Glance API serves one image. */
export interface FakeImage {
  data: Buffer;
  /** Serve Glance metadata (checksum, os_hash_*) at /v2/images/{id}. Default true. */
  metadata?: boolean;
  /** Send Content-MD5 (hex, as Glance does) with the data. Default true. */
  contentMd5?: boolean;
  /** Advertise checksums of different bytes. */
  wrongChecksum?: boolean;
  /** Status of the data request instead of 200. */
  status?: number;
  /** Bytes per write and pause between writes. */
  chunkSize?: number;
  chunkDelayMs?: number;
  /** Stop after this many bytes until `release` resolves. */
  gate?: { afterBytes: number; release: Promise<void>; reached?: () => void };
  /** Destroy the connection after this many bytes (after any gate). */
  failAfterBytes?: number;
  /** Only these X-Auth-Token values may read the image (403 otherwise). */
  allowedTokens?: string[];
  /**
   * Glance `status` in the metadata (default `active`). The data route answers as Glance
   * 25.1 does: `deactivated` 403 except for {@link FakeOrigin.adminTokens}; `queued`,
   * `saving`, `uploading`, `importing`, `killed` 204 (no data); `deleted`,
   * `pending_delete` 404 (the metadata still shows them, as to an admin of an origin that
   * lists deleted images).
   */
  imageStatus?: string;
  /** Send the data gzip-encoded with `Content-Encoding: gzip`, whatever Accept-Encoding asked for. */
  gzip?: boolean;
}

export interface RecordedUpload {
  imageId: string;
  headers: IncomingMessage['headers'];
  length: number;
  sha256: string;
}

/** A small Glance API on 127.0.0.1 with per-image behaviour and request counters. */
export class FakeOrigin {
  readonly images = new Map<string, FakeImage>();
  readonly dataRequests = new Map<string, number>();
  readonly metadataRequests = new Map<string, number>();
  readonly headRequests = new Map<string, number>();
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
  private readonly server: Server;
  url = '';

  constructor() {
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
    const file = /^\/v2\/images\/([^/]+)\/file$/.exec(url.pathname);
    const meta = /^\/v2\/images\/([^/]+)$/.exec(url.pathname);
    if (url.pathname === '/versions' && method === 'GET') {
      return json(response, 200, { versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ href: `http://${linkHost}/v2/`, rel: 'self' }] }] });
    }
    if (url.pathname === '/v2/images' && method === 'GET') {
      return json(response, 200, { images: [...this.images.keys()].map((id) => ({ id })), first: `http://${linkHost}/v2/images` });
    }
    if (file && method === 'PUT') return this.upload(decodeURIComponent(file[1]!), request, response);
    if (meta && method === 'DELETE') {
      const target = this.images.get(decodeURIComponent(meta[1]!));
      if (target?.allowedTokens && !target.allowedTokens.includes(String(request.headers['x-auth-token']))) {
        return json(response, 403, { message: 'forbidden' });
      }
      const existed = this.images.delete(decodeURIComponent(meta[1]!));
      response.writeHead(existed ? 204 : 404).end();
      return;
    }
    const imageId = decodeURIComponent((file ?? meta)?.[1] ?? '');
    const image = this.images.get(imageId);
    if (!image) return json(response, 404, { message: 'image not found' });
    if (image.allowedTokens && !image.allowedTokens.includes(String(request.headers['x-auth-token']))) {
      return json(response, 403, { message: 'forbidden' });
    }
    if (meta && method === 'GET') {
      bump(this.metadataRequests, imageId);
      if (image.metadata === false) return json(response, 404, { message: 'no metadata here' });
      const data = image.wrongChecksum ? Buffer.concat([image.data, Buffer.from('x')]) : image.data;
      return json(response, 200, {
        id: imageId,
        status: image.imageStatus ?? 'active',
        size: image.data.length,
        checksum: createHash('md5').update(data).digest('hex'),
        os_hash_algo: 'sha512',
        os_hash_value: createHash('sha512').update(data).digest('hex'),
      });
    }
    if (file && (method === 'GET' || method === 'HEAD')) {
      const refused = this.dataRefusal(image, request);
      if (refused) {
        if (method === 'GET') bump(this.dataRequests, imageId);
        else bump(this.headRequests, imageId);
        if (refused.status === 204) return void response.writeHead(204).end();
        return json(response, refused.status, { message: refused.message });
      }
    }
    if (file && method === 'HEAD' && !this.allowHead) {
      bump(this.headRequests, imageId);
      return void response.writeHead(405, { allow: 'GET, PUT' }).end();
    }
    if (file && method === 'HEAD') {
      bump(this.headRequests, imageId);
      // Like nginx and most stores, a Range on a HEAD is answered as it would be on a GET.
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(request.headers.range ?? ''));
      const size = image.data.length;
      if (range && Number(range[1]) >= size) return void response.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
        const headers = { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}`, 'content-type': 'application/octet-stream' };
        return void response.writeHead(206, headers).end();
      }
      response.writeHead(image.status ?? 200, { 'content-length': size, 'content-type': 'application/octet-stream' }).end();
      return;
    }
    if (file && method === 'GET') return this.sendData(imageId, image, request, response);
    response.writeHead(405).end();
  }

  /** Glance's answer to a data request for an image that is not `active`, or null. */
  private dataRefusal(image: FakeImage, request: IncomingMessage): { status: number; message: string } | null {
    const status = image.imageStatus ?? 'active';
    if (status === 'deleted' || status === 'pending_delete') return { status: 404, message: 'No image found' };
    if (status === 'deactivated' && !this.adminTokens.has(String(request.headers['x-auth-token']))) {
      return { status: 403, message: 'image deactivated: only admins may download its data' };
    }
    if (['queued', 'saving', 'uploading', 'importing', 'killed'].includes(status)) return { status: 204, message: '' };
    return null;
  }

  private async sendData(imageId: string, image: FakeImage, request: IncomingMessage, response: ServerResponse): Promise<void> {
    bump(this.dataRequests, imageId);
    if (image.status && image.status !== 200) return json(response, image.status, { message: `status ${image.status}` });
    let body = image.data;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(request.headers.range ?? ''));
    let status = 200;
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Number(range[2]) : body.length - 1;
      body = body.subarray(start, end + 1);
      headers['content-range'] = `bytes ${start}-${end}/${image.data.length}`;
      status = 206;
    } else if (image.contentMd5 !== false) {
      const data = image.wrongChecksum ? Buffer.concat([image.data, Buffer.from('x')]) : image.data;
      headers['content-md5'] = createHash('md5').update(data).digest('hex');
    }
    if (image.gzip) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = body.length;
    response.writeHead(status, headers);
    const chunkSize = image.chunkSize ?? 64 * 1024;
    let sent = 0;
    let gated = false;
    while (sent < body.length) {
      if (image.gate && !gated && sent >= image.gate.afterBytes) {
        gated = true;
        image.gate.reached?.();
        await image.gate.release;
      }
      if (image.failAfterBytes !== undefined && sent >= image.failAfterBytes) {
        response.destroy();
        return;
      }
      const chunk = body.subarray(sent, sent + chunkSize);
      sent += chunk.length;
      if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve));
      if (image.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, image.chunkDelayMs));
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

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
