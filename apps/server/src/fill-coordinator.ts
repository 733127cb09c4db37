import type { IncomingHttpHeaders } from 'node:http';
import { ImgcacheError, type ImageCache, type Logger } from '@imgcache/core';
import type { Admission, RefusalReason } from './admission.js';
import type { Authorizer, AuthDecision } from './authorizer.js';
import type { ServerMetrics } from './metrics.js';
import { chooseChecksum, type GlanceImageMetadata } from './origin-checksum.js';
import { discard, forwardedHeaders, headerValue, type Origin, type OriginResponse } from './origin.js';

/** Why a download was proxied without caching. */
export type BypassReason = RefusalReason | 'busy' | 'metadata' | 'deleted';

/** A fill running in this process: one origin download being written into the cache. */
export interface ActiveFill {
  imageId: string;
  size: number;
  /** The origin's Content-MD5 header, passed on to clients of the miss. */
  contentMd5: string | undefined;
  /** `algorithm:hex` the download is verified against, when the origin gave one. */
  checksum: string | undefined;
  /** Resolves true once committed, false when the image was not cacheable; rejects on failure. */
  done: Promise<boolean>;
  abort: AbortController;
}

/** What {@link FillCoordinator.begin} decided for one request. */
export type BeginResult =
  /** Stream `bytes` (this request's own follower of the fill). */
  | { kind: 'follow'; fill: ActiveFill; bytes: AsyncIterable<Uint8Array>; coalesced: boolean }
  /** The image got cached meanwhile: serve it as a hit. */
  | { kind: 'cached' }
  /** Send this origin response as it is, uncached (an origin error, or a download not admitted). */
  | { kind: 'response'; response: OriginResponse; bypass: BypassReason | null }
  /** A concurrent fill is running but the origin refused this client. */
  | { kind: 'refused'; decision: Exclude<AuthDecision, { allowed: true }> };

export interface BeginOptions {
  /** Asked before joining a fill started for someone else; unset means anyone may join. */
  authorize?: (() => Promise<AuthDecision>) | undefined;
  purpose: 'download' | 'prefetch';
  /** Ends this request's follower early (the client went away) without touching the fill. */
  signal?: AbortSignal | undefined;
}

const MAX_JOIN_ATTEMPTS = 3;

/**
 * Single-flight for cache misses: the first request for an uncached image makes the one
 * origin request and starts the fill in the background; it and every concurrent request
 * for the image stream the bytes through their own follower of that fill. The fill runs
 * to the end whoever disconnects, so the image is cached for the next client.
 */
export class FillCoordinator {
  /** Images whose leader is still deciding (metadata, admission), so late arrivals wait for it. */
  private readonly deciding = new Map<string, { settled: Promise<void>; invalidated: boolean }>();
  private readonly active = new Map<string, ActiveFill>();

  constructor(
    private readonly cache: ImageCache,
    private readonly origin: Origin,
    private readonly admission: Admission,
    private readonly authorizer: Authorizer,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {}

  /** The fills in progress. */
  get fills(): ActiveFill[] {
    return [...this.active.values()];
  }

  /**
   * Joins the running fill of an image, or fetches it from the origin and starts one.
   * @throws {OriginError} when the origin cannot be reached.
   */
  async begin(imageId: string, incoming: IncomingHttpHeaders, options: BeginOptions): Promise<BeginResult> {
    for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS; attempt++) {
      const running = this.active.get(imageId);
      if (running && this.cache.isFilling(imageId)) {
        const decision = options.authorize ? await options.authorize() : { allowed: true as const };
        if (!decision.allowed) return { kind: 'refused', decision };
        const bytes = this.cache.followFill(imageId, { signal: options.signal });
        if (bytes) return { kind: 'follow', fill: running, bytes, coalesced: true };
      }
      const deciding = this.deciding.get(imageId);
      if (!deciding) break;
      await deciding.settled;
    }
    let settle!: () => void;
    const decision = { settled: new Promise<void>((resolve) => (settle = resolve)), invalidated: false };
    this.deciding.set(imageId, decision);
    try {
      return await this.lead(imageId, incoming, options, decision);
    } finally {
      this.deciding.delete(imageId);
      settle();
    }
  }

  /**
   * The image was deleted at the origin: a leader that has not started its fill yet must
   * not cache the bytes it fetched before the delete. (A running fill is cancelled by
   * the cache's own delete.)
   */
  invalidate(imageId: string): void {
    const decision = this.deciding.get(imageId);
    if (decision) decision.invalidated = true;
    // The cache cancels the fill itself; aborting also frees the origin connection at once
    // instead of when the origin next sends data.
    this.active.get(imageId)?.abort.abort(new Error(`image ${imageId} was deleted`));
  }

  /** {@link invalidate} for every image being fetched. */
  invalidateAll(): void {
    for (const imageId of [...this.deciding.keys(), ...this.active.keys()]) this.invalidate(imageId);
  }

  private async lead(
    imageId: string,
    incoming: IncomingHttpHeaders,
    { purpose, signal }: BeginOptions,
    decision: { invalidated: boolean },
  ): Promise<BeginResult> {
    if (await this.cache.isCached(imageId)) return { kind: 'cached' };
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    const metadata = await this.fetchMetadata(imageId, headers);
    this.metrics.originFetches.inc({ purpose });
    // One signal stops both the fill and the origin download (shutdown after its grace period).
    const abort = new AbortController();
    const response = await this.origin.request(this.origin.dataUrl(imageId), { method: 'GET', headers, signal: abort.signal });
    if (response.statusCode !== 200) return { kind: 'response', response, bypass: null };
    if (!metadata.ok) return this.bypass(response, 'metadata');
    // Only now has the origin served these credentials the data (metadata alone is not enough:
    // a deactivated image still has metadata).
    this.authorizer.remember(imageId, incoming);
    const lengthHeader = headerValue(response.headers, 'content-length');
    const size = lengthHeader !== undefined ? Number(lengthHeader) : (metadata.value?.size ?? undefined);
    const admission = await this.admission.admit(Number.isSafeInteger(size) ? size : undefined);
    if (!admission.admitted) return this.bypass(response, admission.reason);
    if (await this.cache.isBeingCached(imageId)) {
      admission.release();
      return this.bypass(response, 'busy');
    }
    if (decision.invalidated) {
      admission.release();
      return this.bypass(response, 'deleted');
    }
    const contentMd5 = headerValue(response.headers, 'content-md5');
    const checksum = chooseChecksum(metadata.value, contentMd5);
    // The fill reads the body; an abort it causes must not surface as an uncaught stream error.
    response.body.on('error', () => undefined);
    // cacheImageIter reserves the image synchronously, so followFill below always finds it.
    const done = this.cache.cacheImageIter(imageId, response.body, checksum, { expectedSize: size!, signal: abort.signal });
    const bytes = this.cache.followFill(imageId, { signal });
    const fill: ActiveFill = { imageId, size: size!, contentMd5, checksum, done, abort };
    this.active.set(imageId, fill);
    done.then(
      (cached) => {
        if (cached) return void this.metrics.fillsCompleted.inc();
        // Not cacheable after all: the fill never read the body, and nobody else will.
        discard(response.body);
        this.metrics.bypassed.inc({ reason: 'busy' });
      },
      (error: unknown) => {
        discard(response.body);
        const reason = ImgcacheError.is(error) ? error.code.replace('ERR_IMGCACHE_', '').toLowerCase() : 'origin';
        this.metrics.fillFailures.inc({ reason });
        this.logger.warn({ imageId, err: (error as Error).message }, 'cache fill failed; nothing was cached');
      },
    ).finally(() => {
      admission.release();
      if (this.active.get(imageId) === fill) this.active.delete(imageId);
    });
    if (!bytes) throw new Error(`fill of ${imageId} did not register; this is a bug`);
    return { kind: 'follow', fill, bytes, coalesced: false };
  }

  private bypass(response: OriginResponse, reason: BypassReason): BeginResult {
    this.metrics.bypassed.inc({ reason });
    return { kind: 'response', response, bypass: reason };
  }

  /** Glance metadata (checksums, size), fetched with the client's credentials; not ok when refused. */
  private async fetchMetadata(imageId: string, headers: Record<string, string | string[]>): Promise<{ ok: boolean; value: GlanceImageMetadata | null }> {
    const url = this.origin.metadataUrl(imageId);
    if (!url) return { ok: true, value: null };
    const metadataHeaders = { ...headers, accept: 'application/json' };
    const response = await this.origin.request(url, { method: 'GET', headers: metadataHeaders });
    if (response.statusCode < 200 || response.statusCode >= 300) {
      discard(response.body);
      return { ok: false, value: null };
    }
    try {
      const text = await readText(response.body, 1024 * 1024);
      const parsed: unknown = JSON.parse(text);
      return { ok: true, value: typeof parsed === 'object' && parsed !== null ? (parsed as GlanceImageMetadata) : null };
    } catch {
      return { ok: true, value: null };
    }
  }
}

async function readText(body: OriginResponse['body'], limit: number): Promise<string> {
  // Stopping early destroys the body, which undici reports as an abort error: expected here.
  body.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.byteLength;
    if (length > limit) throw new Error('metadata document too large');
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
