import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { deliversBytes, glanceDataVerdict } from './glance-status.js';
import { probeData, readBounded, readImageStatus } from './image-lookup.js';
import { credentialHeaders, discard, forwardedHeaders, type Origin, type OriginHeaders, type OriginResponse } from './origin.js';

const MAX_REMEMBERED = 10_000;
const MAX_REFUSAL_BODY = 64 * 1024;

/** The origin's answer to "may these credentials read this image's data now?". */
export type AuthDecision =
  | { allowed: true }
  | { allowed: false; status: number; contentType: string | undefined; body: Buffer };

type Refusal = Exclude<AuthDecision, { allowed: true }>;

/**
 * Decides, before a cached copy is served, whether the origin would serve the image's
 * data to this client now, and remembers positive answers for `ttlSeconds` per image and
 * credentials. Refusals are not remembered, so a newly granted permission takes effect at
 * once.
 *
 * - Glance origins: `GET /v2/images/{id}` with the client's credentials. A refusal is
 *   passed on as it is. Otherwise the image's `status` decides as Glance's data route
 *   would ({@link glanceDataVerdict}): `active` is allowed; `deleted`/`pending_delete` are
 *   refused with 404 and images without data (`queued`, `saving`, `uploading`,
 *   `importing`, `killed`) with 204; for `deactivated` (403 to non-admins only) or an
 *   unknown status the data URL itself is asked with a `GET` whose body is dropped.
 * - Template origins (no metadata): `HEAD` on the data URL (a `GET` when the origin
 *   refuses `HEAD` with 405/501); allowed only for a 2xx that carries content.
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
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    const decision = this.origin.kind === 'glance' ? await this.askGlance(imageId, headers) : await this.askData(imageId, headers, 'HEAD');
    if (decision.allowed) this.rememberKey(key);
    return decision;
  }

  private async askGlance(imageId: string, headers: OriginHeaders): Promise<AuthDecision> {
    const response = await this.origin.request(this.origin.metadataUrl(imageId)!, { method: 'GET', headers: { ...headers, accept: 'application/json' } });
    if (response.statusCode < 200 || response.statusCode >= 300) return refusal(response);
    const status = await readImageStatus(response.body);
    const verdict = glanceDataVerdict(status);
    if (verdict.kind === 'serves') return { allowed: true };
    if (verdict.kind === 'ask') return this.askData(imageId, headers, 'GET');
    if (verdict.status === 204) return { allowed: false, status: 204, contentType: undefined, body: Buffer.alloc(0) };
    const message = `Image ${imageId} is ${String(status)} at the origin, which no longer serves its data.`;
    return { allowed: false, status: verdict.status, contentType: 'application/json', body: Buffer.from(JSON.stringify({ error: { code: verdict.status, message } })) };
  }

  private async askData(imageId: string, headers: OriginHeaders, method: 'HEAD' | 'GET'): Promise<AuthDecision> {
    const response = await probeData(this.origin, imageId, headers, method);
    if (!deliversBytes(response.statusCode)) return refusal(response);
    discard(response.body);
    return { allowed: true };
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

/** The origin's refusal as it is: status, content type and (the start of) its body. */
async function refusal(response: OriginResponse): Promise<Refusal> {
  const contentType = response.headers['content-type'];
  return {
    allowed: false,
    status: response.statusCode,
    contentType: Array.isArray(contentType) ? contentType[0] : contentType,
    body: await readBounded(response.body, MAX_REFUSAL_BODY),
  };
}
