import type { IncomingHttpHeaders } from 'node:http';
import { AuthorisationMemory } from './authorisation-memory.js';
import { deliversBytes, glanceDataVerdict } from './glance-status.js';
import { probeData, readBounded, readImageStatus } from './image-lookup.js';
import { discard, forwardedHeaders, type Origin, type OriginHeaders, type OriginResponse } from './origin.js';

const MAX_REFUSAL_BODY = 64 * 1024;

/** Why a stale authorisation was used: the origin refused the connection or broke off, timed out, or answered 5xx. */
export type StaleReason = 'unreachable' | 'timeout' | 'server_error';

/** A client served on an earlier authorisation because the origin could not be asked. */
export interface StaleGrant {
  reason: StaleReason;
  /** Whole seconds since the origin last authorised this client for the image. */
  ageSeconds: number;
  /** What went wrong with the origin, for the log. */
  detail: string;
}

/**
 * The answer to "may these credentials read this image's data now?": the origin's, or,
 * with `stale` set, one given on the origin's earlier authorisation while it cannot be asked.
 */
export type AuthDecision =
  | { allowed: true; stale?: StaleGrant }
  | { allowed: false; status: number; contentType: string | undefined; body: Buffer };

type Refusal = Exclude<AuthDecision, { allowed: true }>;

/** How long the origin's authorisations count. */
export interface AuthWindows {
  /** Seconds a positive answer is reused without asking the origin again (`--auth-ttl`). */
  ttlSeconds: number;
  /**
   * Seconds after its last authorisation that a client is still served while the origin
   * cannot be asked: connection refused or broken, timed out, or a 5xx answer
   * (`--auth-stale`; 0 = never). A refusal (any other non-2xx) is never overridden.
   */
  staleSeconds?: number;
}

/**
 * Decides, before a cached copy is served, whether the origin would serve the image's
 * data to this client now, and remembers positive answers for `ttlSeconds` per image and
 * credentials. Refusals are not remembered (and erase an earlier authorisation of the same
 * client), so a newly granted permission takes effect at once and a revoked one is never
 * served stale.
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
  private readonly memory: AuthorisationMemory;
  private readonly ttlMs: number;
  private readonly staleMs: number;

  constructor(
    private readonly origin: Origin,
    windows: AuthWindows,
    now: () => number = Date.now,
  ) {
    this.memory = new AuthorisationMemory(now);
    this.ttlMs = windows.ttlSeconds * 1000;
    this.staleMs = (windows.staleSeconds ?? 0) * 1000;
  }

  /**
   * @throws {OriginError | OriginTimeoutError} when the origin cannot be asked and no
   * authorisation of this client within the stale window stands in for its answer.
   */
  async check(imageId: string, incoming: IncomingHttpHeaders): Promise<AuthDecision> {
    const age = this.memory.age(imageId, incoming);
    if (age !== undefined && age < this.ttlMs) return { allowed: true };
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    let decision: AuthDecision;
    try {
      decision =
        this.origin.kind === 'glance'
          ? await this.askGlance(imageId, headers)
          : await this.askData(imageId, headers, 'HEAD');
    } catch (error) {
      const reason = unreachableReason(error);
      const stale = reason && this.staleGrant(age, reason, (error as Error).message);
      if (stale) return { allowed: true, stale };
      throw error;
    }
    if (decision.allowed) {
      this.remember(imageId, incoming);
    } else if (decision.status >= 500) {
      const stale = this.staleGrant(age, 'server_error', `the origin answered ${decision.status}`);
      if (stale) return { allowed: true, stale };
    } else {
      this.memory.forget(imageId, incoming);
    }
    return decision;
  }

  /** A stale grant when the last authorisation (`age` ms ago) is within the stale window. */
  private staleGrant(age: number | undefined, reason: StaleReason, detail: string): StaleGrant | null {
    if (age === undefined || age >= this.staleMs) return null;
    return { reason, ageSeconds: Math.floor(age / 1000), detail };
  }

  private async askGlance(imageId: string, headers: OriginHeaders): Promise<AuthDecision> {
    const response = await this.origin.request(this.origin.metadataUrl(imageId)!, {
      method: 'GET',
      headers: { ...headers, accept: 'application/json' },
    });
    if (response.statusCode < 200 || response.statusCode >= 300) return refusal(response);
    const status = await readImageStatus(response.body);
    const verdict = glanceDataVerdict(status);
    if (verdict.kind === 'serves') return { allowed: true };
    if (verdict.kind === 'ask') return this.askData(imageId, headers, 'GET');
    if (verdict.status === 204) return { allowed: false, status: 204, contentType: undefined, body: Buffer.alloc(0) };
    const message = `Image ${imageId} is ${String(status)} at the origin, which no longer serves its data.`;
    return {
      allowed: false,
      status: verdict.status,
      contentType: 'application/json',
      body: Buffer.from(JSON.stringify({ error: { code: verdict.status, message } })),
    };
  }

  private async askData(imageId: string, headers: OriginHeaders, method: 'HEAD' | 'GET'): Promise<AuthDecision> {
    const response = await probeData(this.origin, imageId, headers, method);
    if (!deliversBytes(response.statusCode)) return refusal(response);
    discard(response.body);
    return { allowed: true };
  }

  /** Records that the origin just authorised these credentials for the image (e.g. on a miss). */
  remember(imageId: string, incoming: IncomingHttpHeaders): void {
    if (this.ttlMs > 0 || this.staleMs > 0) this.memory.record(imageId, incoming);
  }

  /** Drops every remembered decision for an image (it was deleted). */
  forget(imageId: string): void {
    this.memory.forgetImage(imageId);
  }
}

/** Why the origin could not be asked, or null when the error is not the origin's unavailability. */
function unreachableReason(error: unknown): StaleReason | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_IMGCACHE_ORIGIN_TIMEOUT') return 'timeout';
  if (code === 'ERR_IMGCACHE_ORIGIN') return 'unreachable';
  return null;
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
