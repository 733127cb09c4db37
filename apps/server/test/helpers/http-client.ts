import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ClientOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | Readable;
  /** Loopback address to send from (127.0.0.2…), to be another client address. */
  localAddress?: string;
}

/** One HTTP request; resolves with the whole body, rejects when the connection breaks. */
export function send(url: string, options: ClientOptions = {}): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false, localAddress: options.localAddress },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('aborted', () => reject(new Error('response aborted')));
        response.on('end', () => {
          if (!response.complete) reject(new Error('response incomplete'));
          else resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
        });
      },
    );
    outgoing.on('error', reject);
    if (options.body instanceof Readable) options.body.pipe(outgoing);
    else outgoing.end(options.body);
  });
}

export interface DigestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  length: number;
  sha256: string;
}

/**
 * A GET that hashes the body instead of keeping it; `onFirstByte` fires with the first
 * chunk. Rejects when the connection breaks or the body is incomplete.
 */
export function download(
  url: string,
  options: { headers?: Record<string, string>; onFirstByte?: () => void } = {},
): Promise<DigestResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { headers: options.headers, agent: false }, (response) => {
      const hash = createHash('sha256');
      let length = 0;
      response.on('data', (chunk: Buffer) => {
        if (length === 0) options.onFirstByte?.();
        length += chunk.length;
        hash.update(chunk);
      });
      response.on('error', reject);
      response.on('aborted', () => reject(new Error('response aborted')));
      response.on('end', () => {
        if (!response.complete) reject(new Error('response incomplete'));
        else
          resolve({ status: response.statusCode ?? 0, headers: response.headers, length, sha256: hash.digest('hex') });
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
