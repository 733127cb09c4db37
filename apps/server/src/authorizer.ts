import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { credentialHeaders, discard, forwardedHeaders, type Origin, type OriginResponse } from './origin.js';

const MAX_REMEMBERED = 10_000;
const MAX_REFUSAL_BODY = 64 * 1024;

/** The origin's answer to "may these credentials read this image?". */
export type AuthDecision =
  | { allowed: true }
  | { allowed: false; status: number; contentType: string | undefined; body: Buffer };

/**
 * Asks the origin whether a client may read an image before a cached copy is served to it
 * (Glance: `GET /v2/images/{id}`; template origins: `HEAD` on the data URL), and
 * remembers positive answers for `ttlSeconds` per image and credentials. Refusals are
 * not remembered, so a newly granted permission takes effect at once.
 */
export class Authorizer {
  private readonly allowed = new Map<string, number>();

  constructor(
    private readonly origin: Origin,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * @throws {OriginError} when the origin cannot be asked.
   */
  async check(imageId: string, incoming: IncomingHttpHeaders): Promise<AuthDecision> {
    const key = this.key(imageId, incoming);
    const until = this.allowed.get(key);
    if (until !== undefined && until > Date.now()) return { allowed: true };
    if (until !== undefined) this.allowed.delete(key);
    const metadataUrl = this.origin.metadataUrl(imageId);
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    const response = metadataUrl
      ? await this.origin.request(metadataUrl, { method: 'GET', headers: { ...headers, accept: 'application/json' } })
      : await this.origin.request(this.origin.dataUrl(imageId), { method: 'HEAD', headers });
    if (response.statusCode >= 200 && response.statusCode < 300) {
      discard(response.body);
      this.rememberKey(key);
      return { allowed: true };
    }
    const contentType = response.headers['content-type'];
    return {
      allowed: false,
      status: response.statusCode,
      contentType: Array.isArray(contentType) ? contentType[0] : contentType,
      body: await readBounded(response.body, MAX_REFUSAL_BODY),
    };
  }

  /** Records that the origin just authorised these credentials for the image (e.g. on a miss). */
  remember(imageId: string, incoming: IncomingHttpHeaders): void {
    this.rememberKey(this.key(imageId, incoming));
  }

  /** Drops every remembered decision for an image (it was deleted). */
  forget(imageId: string): void {
    const prefix = `${imageId}\0`;
    for (const key of this.allowed.keys()) if (key.startsWith(prefix)) this.allowed.delete(key);
  }

  private rememberKey(key: string): void {
    if (this.ttlSeconds <= 0) return;
    this.allowed.delete(key);
    this.allowed.set(key, Date.now() + this.ttlSeconds * 1000);
    // Maps iterate in insertion order: drop the oldest decisions beyond the bound.
    while (this.allowed.size > MAX_REMEMBERED) this.allowed.delete(this.allowed.keys().next().value!);
  }

  private key(imageId: string, incoming: IncomingHttpHeaders): string {
    const credentials = credentialHeaders(incoming);
    const digest = createHash('sha256')
      .update(`${credentials['x-auth-token'] ?? ''}\0${credentials['authorization'] ?? ''}`)
      .digest('base64url');
    return `${imageId}\0${digest}`;
  }
}

async function readBounded(body: OriginResponse['body'], limit: number): Promise<Buffer> {
  // Stopping early destroys the body, which undici reports as an abort error: expected here.
  body.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    length += chunk.byteLength;
    if (length >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
