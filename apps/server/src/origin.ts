import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import type { OriginTls } from './config.js';
import { originFailure } from './errors.js';
import { downloadImage, type OriginTimeouts } from './origin-download.js';

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
  'http2-settings',
]);

/** Request headers that would turn an image fetch into a partial or conditional one. */
const CONDITIONAL = ['range', 'if-range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since'];

/** Request headers that ask for part of a body: meaningless on a HEAD (RFC 9110 §14.2 defines Range for GET). */
const PARTIAL = ['range', 'if-range'];

/** Defaults of {@link OriginOptions.timeouts}, in milliseconds: those of the server's flags. */
const DEFAULT_TIMEOUTS: OriginTimeouts = { connect: 10_000, headers: 30_000, idle: 30_000 };

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

export interface OriginOptions {
  /**
   * Credentials that must never reach the origin (the admin token): a request header
   * presenting one (`X-Auth-Token: <t>`, `Authorization: Bearer <t>`, or any header whose
   * whole value is `<t>`) is dropped from every request, whoever built it.
   */
  withheldTokens?: readonly (string | undefined)[];
  /**
   * Limits, in milliseconds (0: none), on connecting, on the response headers, and on the
   * pause between two parts of a body (uploads get 30 minutes for their answer). Default
   * 10 s, 30 s, 30 s.
   */
  timeouts?: Partial<OriginTimeouts>;
  /**
   * TLS for an https origin, PEM contents: `ca` replaces Node's bundled CAs (a private
   * CA), `cert` and `key` are a client certificate for origins that ask for one.
   */
  tls?: OriginTls | undefined;
}

/**
 * The upstream image service: a Glance API (data at `{base}/v2/images/{id}/file`,
 * metadata at `{base}/v2/images/{id}`) or any store reached through a data URL template
 * containing `{id}`. One keep-alive connection pool serves every request.
 *
 * Every request carries the origin's own `Host` (taken from the URL it is sent to), never
 * the client's: origins that route by virtual host, TLS SNI and signed URLs depend on it.
 */
export class Origin {
  readonly kind: 'glance' | 'template';
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly withheld: ReadonlySet<string>;
  private readonly timeouts: OriginTimeouts;
  private readonly tls: OriginTls | undefined;

  constructor(
    private readonly url: string,
    options: OriginOptions = {},
  ) {
    this.kind = url.includes('{id}') ? 'template' : 'glance';
    this.base = new URL(this.kind === 'template' ? new URL(url.replace('{id}', 'x')).origin : url);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const { connect, headers, idle } = this.timeouts;
    this.tls = options.tls;
    this.dispatcher = new Agent({
      connections: 256,
      keepAliveTimeout: 10_000,
      connectTimeout: connect,
      headersTimeout: headers,
      bodyTimeout: idle,
      ...(this.tls ? { connect: { ...this.tls } } : {}),
    });
    this.withheld = new Set(
      (options.withheldTokens ?? []).filter((token): token is string => typeof token === 'string' && token.length > 0),
    );
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
   * Sends one request upstream. The response body must be consumed or destroyed; a pause
   * inside it longer than the idle timeout fails it with undici's BodyTimeoutError.
   * @throws {OriginTimeoutError} when the origin does not connect or answer in time.
   * @throws {OriginError} when the origin cannot be reached.
   */
  async request(url: string, options: OriginRequest): Promise<OriginResponse> {
    try {
      const response = await request(url, {
        method: options.method as Dispatcher.HttpMethod,
        headers: this.outgoingHeaders(options.headers),
        body: options.body ?? null,
        signal: options.signal,
        dispatcher: this.dispatcher,
        // An upload's answer comes only once the whole body is through: give it time.
        ...(options.body ? { headersTimeout: UPLOAD_HEADERS_TIMEOUT_MS } : {}),
      });
      return response as unknown as OriginResponse;
    } catch (error) {
      throw originFailure(options.method, url, error);
    }
  }

  /**
   * GETs image data on a connection of its own, so that a body longer than its framing
   * announced fails instead of ending (see {@link downloadImage}). The response body must
   * be consumed or destroyed.
   * @throws {OriginTimeoutError} when the origin does not connect or answer in time.
   * @throws {OriginError} when the origin cannot be reached.
   */
  async download(
    url: string,
    options: { headers: OriginHeaders; signal?: AbortSignal | undefined },
  ): Promise<OriginResponse> {
    try {
      return await downloadImage(url, {
        headers: this.outgoingHeaders(options.headers),
        signal: options.signal,
        timeouts: this.timeouts,
        tls: this.tls,
      });
    } catch (error) {
      throw originFailure('GET', url, error);
    }
  }

  /**
   * The headers as they leave: no `Host` (undici sets the origin's own from the URL) and
   * no header presenting a withheld token. This is the one place every origin request
   * passes, so nothing built elsewhere can leak the admin token or the client's host.
   */
  private outgoingHeaders(headers: OriginHeaders): OriginHeaders {
    const result: OriginHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === 'host') continue;
      if (this.withheld.size > 0 && presentsToken(value, this.withheld)) continue;
      result[name] = value;
    }
    return result;
  }

  /** Aborts whatever is still in flight (called last at shutdown) and closes the connections. */
  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }
}

/**
 * The client's headers as they go upstream: hop-by-hop headers dropped (RFC 9110 §7.6.1,
 * with every header the client's `Connection` names), `Host` dropped so the origin gets
 * its own, and optionally the conditional/range headers dropped so the origin sends the
 * whole image (or, with `head`, the Range headers a HEAD must not pass on, so that no
 * origin answers a HEAD with 206 or 416). The client's host travels as `X-Forwarded-Host`
 * (and `X-Forwarded-Proto`), which a Glance with `[oslo_middleware]
 * enable_proxy_headers_parsing = true` uses for the links it returns, so they point back at
 * this server; values set by a proxy in front of this server are kept. (No `Forwarded` header: oslo.middleware does not unquote its
 * values, and a `host` with a port must be quoted there.)
 */
export function forwardedHeaders(
  incoming: IncomingHttpHeaders,
  options: { wholeImage?: boolean; head?: boolean } = {},
): OriginHeaders {
  const headers: OriginHeaders = {};
  const connectionTokens = new Set(
    [incoming.connection ?? []]
      .flat()
      .flatMap((value) => value.split(','))
      .map((token) => token.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name === 'host' || HOP_BY_HOP.has(name) || connectionTokens.has(name)) continue;
    if (options.wholeImage && (CONDITIONAL.includes(name) || NO_BODY.includes(name))) continue;
    if (options.head && PARTIAL.includes(name)) continue;
    headers[name] = value;
  }
  const host = incoming.host;
  if (host && headers['x-forwarded-host'] === undefined) {
    headers['x-forwarded-host'] = host;
    headers['x-forwarded-proto'] ??= 'http';
  }
  // The exact bytes are hashed and cached, so they must not arrive content-encoded.
  if (options.wholeImage) headers['accept-encoding'] = 'identity';
  return headers;
}

/** True when a header value presents one of the tokens, alone or after an auth scheme. */
function presentsToken(value: string | string[], tokens: ReadonlySet<string>): boolean {
  for (const item of [value].flat()) {
    const trimmed = item.trim();
    if (tokens.has(trimmed)) return true;
    const credentials = /^[A-Za-z][\w.+-]*\s+(.+)$/.exec(trimmed)?.[1]?.trim();
    if (credentials !== undefined && tokens.has(credentials)) return true;
  }
  return false;
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
