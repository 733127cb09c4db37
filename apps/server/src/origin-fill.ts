import type { IncomingHttpHeaders } from 'node:http';
import { ImgcacheError, type Fill, type FillOutcome, type FillStartResult, type ImageCache, type Logger } from '@imgcache/core';
import type { Admission, RefusalReason } from './admission.js';
import type { Authorizer } from './authorizer.js';
import type { ServerMetrics } from './metrics.js';
import { readBounded } from './image-lookup.js';
import { chooseChecksum, type GlanceImageMetadata } from './origin-checksum.js';
import { discard, forwardedHeaders, headerValue, returnedHeaders, type Origin, type OriginHeaders, type OriginResponse } from './origin.js';

/** Largest Glance image document read; theirs are a few KiB. */
const MAX_METADATA = 1024 * 1024;

/** Why a download was proxied without caching. */
export type BypassReason = RefusalReason | 'busy' | 'metadata' | 'local_failure';

/** What the server keeps on a fill: the origin's headers that clients of the miss also get. */
export interface OriginFillInfo {
  /** The origin's Content-MD5 (hex, as Glance sends it). */
  contentMd5: string | undefined;
  /** The origin's response headers, hop-by-hop ones removed (for uncached relays). */
  headers: OriginHeaders;
  statusCode: number;
}

/** A `start` that did not give the cache a source: relay this origin response uncached. */
export interface Declined {
  response: OriginResponse;
  /** Null for an origin error (relayed as it is), else why it is not cached. */
  bypass: BypassReason | null;
}

/**
 * The server's side of a miss: the origin request that a fill caches. The cache's
 * {@link ImageCache.fill} does the single-flight; this adds what only the server knows:
 * the client's credentials and the metadata check, the origin request, admission against
 * the budget and the free-disk floor, and metrics.
 */
export class OriginFills {
  /** Origin downloads of running fills, aborted at shutdown. */
  private readonly downloads = new Set<AbortController>();

  constructor(
    private readonly cache: ImageCache,
    private readonly origin: Origin,
    private readonly admission: Admission,
    private readonly authorizer: Authorizer,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Joins the fill of an image, or fetches it from the origin with `incoming`'s credentials
   * and starts one.
   * @throws {OriginError} when the origin cannot be reached.
   */
  async begin(imageId: string, incoming: IncomingHttpHeaders, purpose: 'download' | 'prefetch'): Promise<FillOutcome<Declined>> {
    const outcome = await this.cache.fill(imageId, () => this.fetch(imageId, incoming, purpose));
    if (outcome.kind === 'joined' && outcome.leader) this.watch(outcome.fill);
    if (outcome.kind === 'pass') {
      const reason: BypassReason = outcome.reason === 'claimed' ? 'busy' : 'local_failure';
      this.metrics.bypassed.inc({ reason });
      if (outcome.error) this.logger.warn({ imageId, err: String(outcome.error) }, 'could not start a cache fill; proxying the download');
    }
    return outcome;
  }

  /** Aborts every origin download still running (shutdown after its grace period). */
  abortAll(reason: Error): void {
    for (const download of this.downloads) download.abort(reason);
  }

  private async fetch(imageId: string, incoming: IncomingHttpHeaders, purpose: 'download' | 'prefetch'): Promise<FillStartResult<Declined>> {
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    const metadata = await this.fetchMetadata(imageId, headers);
    this.metrics.originFetches.inc({ purpose });
    const download = new AbortController();
    const response = await this.origin.request(this.origin.dataUrl(imageId), { method: 'GET', headers, signal: download.signal });
    if (response.statusCode !== 200) return { decline: { response, bypass: null } };
    if (!metadata.ok) return this.decline(response, 'metadata');
    // Only now has the origin served these credentials the data (metadata alone is not enough:
    // a deactivated image still has metadata).
    this.authorizer.remember(imageId, incoming);
    const lengthHeader = headerValue(response.headers, 'content-length');
    const announced = lengthHeader !== undefined ? Number(lengthHeader) : (metadata.value?.size ?? undefined);
    const size = Number.isSafeInteger(announced) ? announced : undefined;
    const admission = await this.admission.admit(size);
    if (!admission.admitted) return this.decline(response, admission.reason);
    const contentMd5 = headerValue(response.headers, 'content-md5');
    // The fill reads the body; an abort it causes must not surface as an uncaught stream error.
    response.body.on('error', () => undefined);
    this.downloads.add(download);
    const info: OriginFillInfo = { contentMd5, headers: returnedHeaders(response.headers), statusCode: response.statusCode };
    return {
      source: {
        body: response.body,
        size,
        checksum: chooseChecksum(metadata.value, contentMd5),
        info,
        signal: download.signal,
        onSettled: () => {
          admission.release();
          this.downloads.delete(download);
        },
      },
    };
  }

  private decline(response: OriginResponse, reason: BypassReason): FillStartResult<Declined> {
    this.metrics.bypassed.inc({ reason });
    return { decline: { response, bypass: reason } };
  }

  private watch(fill: Fill): void {
    fill.done.then(
      (committed) => {
        if (committed) this.metrics.fillsCompleted.inc();
        else if (fill.diskFailure) this.metrics.fillFailures.inc({ reason: 'local' });
      },
      (error: unknown) => {
        const reason = ImgcacheError.is(error) ? error.code.replace('ERR_IMGCACHE_', '').toLowerCase() : 'origin';
        this.metrics.fillFailures.inc({ reason });
        this.logger.warn({ imageId: fill.imageId, err: (error as Error).message }, 'cache fill failed; nothing was cached');
      },
    );
  }

  /** Glance metadata (checksums, size), fetched with the client's credentials; not ok when refused. */
  private async fetchMetadata(imageId: string, headers: OriginHeaders): Promise<{ ok: boolean; value: GlanceImageMetadata | null }> {
    const url = this.origin.metadataUrl(imageId);
    if (!url) return { ok: true, value: null };
    const response = await this.origin.request(url, { method: 'GET', headers: { ...headers, accept: 'application/json' } });
    if (response.statusCode < 200 || response.statusCode >= 300) {
      discard(response.body);
      return { ok: false, value: null };
    }
    try {
      const parsed: unknown = JSON.parse((await readBounded(response.body, MAX_METADATA + 1)).toString('utf8'));
      return { ok: true, value: typeof parsed === 'object' && parsed !== null ? (parsed as GlanceImageMetadata) : null };
    } catch {
      return { ok: true, value: null };
    }
  }
}
