import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { OriginError } from './errors.js';

/** Headers that belong to one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** Request headers that would turn an image fetch into a partial or conditional one. */
const CONDITIONAL = ['range', 'if-range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since'];

const UPLOAD_HEADERS_TIMEOUT_MS = 30 * 60 * 1000;

/** Headers describing a request body, dropped when the server sends a bodiless request itself. */
const NO_BODY = ['content-length', 'content-type', 'accept-encoding'];

export type OriginHeaders = Record<string, string | string[]>;

export interface OriginResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & AsyncIterable<Uint8Array>;
}

export interface OriginRequest {
  method: string;
  headers: OriginHeaders;
  body?: Readable | string | null | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The upstream image service: a Glance API (data at `{base}/v2/images/{id}/file`,
 * metadata at `{base}/v2/images/{id}`) or any store reached through a data URL template
 * containing `{id}`. One keep-alive connection pool serves every request.
 */
export class Origin {
  readonly kind: 'glance' | 'template';
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly url: string) {
    this.kind = url.includes('{id}') ? 'template' : 'glance';
    this.base = new URL(this.kind === 'template' ? new URL(url.replace('{id}', 'x')).origin : url);
    this.dispatcher = new Agent({ connections: 256, keepAliveTimeout: 10_000, headersTimeout: 60_000, bodyTimeout: 300_000 });
  }

  dataUrl(imageId: string): string {
    const encoded = encodeURIComponent(imageId);
    return this.kind === 'template' ? this.url.replace('{id}', encoded) : this.resolve(`/v2/images/${encoded}/file`);
  }

  /** Glance's metadata URL, or null for template origins, which have none. */
  metadataUrl(imageId: string): string | null {
    return this.kind === 'glance' ? this.resolve(`/v2/images/${encodeURIComponent(imageId)}`) : null;
  }

  /** The origin URL for a client request path (keeps a base path such as `/image`). */
  resolve(pathAndQuery: string): string {
    const basePath = this.base.pathname.replace(/\/+$/, '');
    return `${this.base.origin}${basePath}${pathAndQuery}`;
  }

  /**
   * Sends one request upstream. The response body must be consumed or destroyed.
   * @throws {OriginError} when the origin cannot be reached.
   */
  async request(url: string, options: OriginRequest): Promise<OriginResponse> {
    try {
      const response = await request(url, {
        method: options.method as Dispatcher.HttpMethod,
        headers: options.headers,
        body: options.body ?? null,
        signal: options.signal,
        dispatcher: this.dispatcher,
        // An upload's answer comes only once the whole body is through: give it time.
        ...(options.body ? { headersTimeout: UPLOAD_HEADERS_TIMEOUT_MS } : {}),
      });
      return response as unknown as OriginResponse;
    } catch (error) {
      throw new OriginError(`origin request ${options.method} ${url} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Aborts whatever is still in flight (called last at shutdown) and closes the connections. */
  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }
}

/**
 * The client's headers as they go upstream: hop-by-hop headers dropped, `Host` kept so the
 * origin's links point back at this server, and optionally the conditional/range headers
 * dropped so the origin sends the whole image.
 */
export function forwardedHeaders(incoming: IncomingHttpHeaders, options: { wholeImage?: boolean } = {}): OriginHeaders {
  const headers: OriginHeaders = {};
  const connectionTokens = String(incoming.connection ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase());
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.includes(name)) continue;
    if (options.wholeImage && (CONDITIONAL.includes(name) || NO_BODY.includes(name))) continue;
    headers[name] = value;
  }
  // The exact bytes are hashed and cached, so they must not arrive content-encoded.
  if (options.wholeImage) headers['accept-encoding'] = 'identity';
  return headers;
}

/** Just the credentials of a client request, for requests the server makes on its behalf. */
export function credentialHeaders(incoming: IncomingHttpHeaders): OriginHeaders {
  const headers: OriginHeaders = {};
  for (const name of ['x-auth-token', 'authorization'] as const) {
    const value = incoming[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

/** Response headers as they go back to the client: hop-by-hop headers dropped. */
export function returnedHeaders(headers: OriginResponse['headers']): OriginHeaders {
  const result: OriginHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    result[name] = value;
  }
  return result;
}

/** The first value of a response header. */
export function headerValue(headers: OriginResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Throws a response body away. Destroying an undici body emits an abort error, which
 * must not become an uncaught exception; small bodies are drained so the connection is reused.
 */
export function discard(body: OriginResponse['body']): void {
  body.on('error', () => undefined);
  const dump = (body as { dump?: (options?: { limit: number }) => Promise<void> }).dump;
  if (dump) dump.call(body, { limit: 64 * 1024 }).catch(() => undefined);
  else body.destroy();
}
