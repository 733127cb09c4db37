import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { glanceDocument, glanceRoute, hex } from './glance.js';

/**
 * How the body differs from what is announced:
 * - `short-cut`: k bytes before the end the connection closes (fewer bytes than
 *   Content-Length; no terminating chunk);
 * - `short-terminated`: chunked, k bytes short but properly terminated;
 * - `long-trailing`: the whole image properly framed, then k more bytes on the connection
 *   in the same write;
 * - `long-framed`: chunked, k more bytes inside the chunks, properly terminated.
 */
export type Lie = 'short-cut' | 'short-terminated' | 'long-trailing' | 'long-framed';

/** One image of a {@link RawOrigin}: the true bytes and how they are sent. */
export interface RawImage {
  data: Buffer;
  /** Send Content-Length (true) or chunked framing (false). */
  contentLength: boolean;
  /** Announce the checksums: Glance metadata `checksum`/`os_hash_*` and a hex Content-MD5. */
  checksum: boolean;
  lie?: Lie;
  /** Never answer the data request (the connection stays open, silent). */
  stallHeaders?: boolean;
  /** Send this Transfer-Encoding instead of chunked (e.g. `gzip, chunked`). */
  transferEncoding?: string;
  /** Glance `size` in the metadata, when it should differ from the true size. */
  metadataSize?: number;
}

/** Bytes a lying body is short or long by. */
export const LIE_BYTES = 1000;

/**
 * The lying origin: written on raw sockets, so it can send what node:http refuses to:
 * bodies longer or shorter than their framing, bytes after the end of a response, headers
 * that never come, any Transfer-Encoding. Serves the same routes as FakeOrigin:
 * Glance metadata at `/v2/images/{id}` and data at `/v2/images/{id}/file`, or data at
 * `/blobs/{id}` (for a template origin `{url}/blobs/{id}`).
 */
export class RawOrigin {
  readonly images = new Map<string, RawImage>();
  readonly dataRequests = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((socket) => this.accept(socket));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        this.answer(socket, head.split(' ')[1] ?? '/');
      }
    });
  }

  private answer(socket: Socket, target: string): void {
    const route = glanceRoute(new URL(target, 'http://origin').pathname);
    const image = route && this.images.get(route.imageId);
    if (!route || !image) return void socket.write(jsonResponse(404, { message: 'no such image' }));
    const { imageId } = route;
    if (route.kind === 'metadata') {
      const document = glanceDocument(imageId, {
        size: image.metadataSize ?? image.data.length,
        checksummed: image.checksum ? image.data : null,
      });
      return void socket.write(jsonResponse(200, document));
    }
    this.dataRequests.set(imageId, (this.dataRequests.get(imageId) ?? 0) + 1);
    if (image.stallHeaders) return;
    this.sendData(socket, image);
  }

  private sendData(socket: Socket, image: RawImage): void {
    const { data, lie } = image;
    const extra = Buffer.alloc(LIE_BYTES, 0x5a);
    const head = ['HTTP/1.1 200 OK', 'Content-Type: application/octet-stream'];
    if (image.checksum) head.push(`Content-MD5: ${hex('md5', data)}`);
    if (image.contentLength) head.push(`Content-Length: ${data.length}`);
    else head.push(`Transfer-Encoding: ${image.transferEncoding ?? 'chunked'}`);
    const start = Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
    const short = data.subarray(0, data.length - LIE_BYTES);
    if (image.contentLength) {
      if (lie === 'short-cut') return void socket.end(Buffer.concat([start, short]));
      if (lie === 'long-trailing') return void socket.write(Buffer.concat([start, data, extra]));
      return void socket.write(Buffer.concat([start, data]));
    }
    const terminator = Buffer.from('0\r\n\r\n', 'latin1');
    switch (lie) {
      case 'short-cut':
        return void socket.end(Buffer.concat([start, chunks(short)]));
      case 'short-terminated':
        return void socket.write(Buffer.concat([start, chunks(short), terminator]));
      case 'long-trailing':
        return void socket.write(Buffer.concat([start, chunks(data), terminator, extra]));
      case 'long-framed':
        return void socket.write(Buffer.concat([start, chunks(Buffer.concat([data, extra])), terminator]));
      default:
        return void socket.write(Buffer.concat([start, chunks(data), terminator]));
    }
  }
}

/** `data` as chunks of 16 KiB in chunked transfer coding (without the terminating chunk). */
function chunks(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += 16 * 1024) {
    const part = data.subarray(offset, offset + 16 * 1024);
    parts.push(Buffer.from(`${part.length.toString(16)}\r\n`, 'latin1'), part, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

function jsonResponse(status: number, body: unknown): Buffer {
  const text = JSON.stringify(body);
  return Buffer.from(
    `HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    'utf8',
  );
}
