import type { IncomingHttpHeaders } from 'node:http';
import type { Fill, FillOutcome, FillStartResult, ImageCache, Logger } from '@imgcache/core';
import type { Admission, RefusalReason } from './admission.js';
import type { Authorizer } from './authorizer.js';
import type { ServerMetrics } from './metrics.js';
import { readBounded } from './image-lookup.js';
import { OriginResponseError } from './errors.js';
import { fillFailureReason } from './failure-reason.js';
import {
  algorithmOf,
  announcedChecksums,
  type AnnouncedChecksums,
  type GlanceImageMetadata,
} from './origin-checksum.js';
import {
  discard,
  forwardedHeaders,
  headerValue,
  returnedHeaders,
  type Origin,
  type OriginHeaders,
  type OriginResponse,
} from './origin.js';
import { verifiedBody } from './verified-body.js';

/** Largest Glance image document read; theirs are a few KiB. */
const MAX_METADATA = 1024 * 1024;

/**
 * Why a download was proxied without caching: admission refused it, the origin refused
 * the metadata, the cache could not hold it, or the origin sent it content-encoded (a
 * body the cache could not serve as the same representation later).
 */
export type BypassReason = RefusalReason | 'busy' | 'metadata' | 'local_failure' | 'encoded';

/** What the server keeps on a fill: what clients of the miss are told before the first byte. */
export interface OriginFillInfo {
  /** The checksum the image will be recorded under (its ETag, and Content-MD5 when md5), if announced. */
  recorded: string | undefined;
  /** The origin's response headers, hop-by-hop ones removed (for uncached relays). */
  headers: OriginHeaders;
  statusCode: number;
}

/** A `start` that did not give the cache a source: relay this origin response uncached. */
export interface Declined {
  /** Its body is checked against what the origin announced (see {@link verifiedBody}). */
  response: OriginResponse;
  /** Null for an origin error (relayed as it is), else why it is not cached. */
  bypass: BypassReason | null;
}

/**
 * Another source of a miss, asked before the origin (in a cluster: the image's owner node).
 * Null means "fetch from the origin".
 */
export type PeerSource = (imageId: string, incoming: IncomingHttpHeaders) => Promise<FillStartResult<Declined> | null>;

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
    private readonly peerSource?: PeerSource,
    /** Told of each fill this process starts (in a cluster: to publish it as `filling`). */
    private readonly onFillStarted?: (fill: Fill) => void,
  ) {}

  /**
   * Joins the fill of an image, or fetches it from the origin with `incoming`'s credentials
   * and starts one.
   * @throws {OriginTimeoutError} when the origin does not connect or answer in time.
   * @throws {OriginError} when the origin cannot be reached.
   * @throws {OriginResponseError} when its announcements contradict each other.
   */
  async begin(
    imageId: string,
    incoming: IncomingHttpHeaders,
    purpose: 'download' | 'prefetch',
  ): Promise<FillOutcome<Declined>> {
    const outcome = await this.cache.fill(imageId, () => this.fetch(imageId, incoming, purpose));
    if (outcome.kind === 'joined' && outcome.leader) {
      this.watch(outcome.fill);
      this.onFillStarted?.(outcome.fill);
    }
    if (outcome.kind === 'pass') {
      const reason: BypassReason = outcome.reason === 'claimed' ? 'busy' : 'local_failure';
      this.metrics.bypassed.inc({ reason });
      if (outcome.error)
        this.logger.warn(
          { imageId, err: String(outcome.error) },
          'could not start a cache fill; proxying the download',
        );
    }
    return outcome;
  }

  /** Aborts every origin download still running (shutdown after its grace period). */
  abortAll(reason: Error): void {
    for (const download of this.downloads) download.abort(reason);
  }

  private async fetch(
    imageId: string,
    incoming: IncomingHttpHeaders,
    purpose: 'download' | 'prefetch',
  ): Promise<FillStartResult<Declined>> {
    const viaPeer = await this.peerSource?.(imageId, incoming);
    if (viaPeer) return viaPeer;
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    const metadata = await this.fetchMetadata(imageId, headers);
    this.metrics.originFetches.inc({ purpose });
    const download = new AbortController();
    const response = await this.origin.download(this.origin.dataUrl(imageId), { headers, signal: download.signal });
    if (response.statusCode !== 200) return { decline: { response, bypass: null } };
    // Bytes the cache could not later serve as the same representation are relayed as they came.
    if (contentCoded(response.headers)) return this.decline(response, 'encoded');
    const announced = announce(imageId, response, metadata.value);
    if (!metadata.ok) return this.decline(response, 'metadata', announced);
    // Only now has the origin served these credentials the data (metadata alone is not enough:
    // a deactivated image still has metadata).
    this.authorizer.remember(imageId, incoming);
    const admission = await this.admission.admit(announced.size);
    if (!admission.admitted) return this.decline(response, admission.reason, announced);
    // The fill reads the body; an abort it causes must not surface as an uncaught stream error.
    response.body.on('error', () => undefined);
    this.downloads.add(download);
    const info: OriginFillInfo = {
      recorded: announced.recorded,
      headers: returnedHeaders(response.headers),
      statusCode: response.statusCode,
    };
    return {
      source: {
        body: response.body,
        size: announced.size,
        checksum: announced.checksums,
        recordAlgorithm: announced.recorded ? algorithmOf(announced.recorded) : undefined,
        info,
        signal: download.signal,
        onSettled: () => {
          admission.release();
          this.downloads.delete(download);
        },
      },
    };
  }

  /** Relays the response uncached, its body checked against what was announced. */
  private decline(response: OriginResponse, reason: BypassReason, announced?: Announcement): FillStartResult<Declined> {
    this.metrics.bypassed.inc({ reason });
    const body = announced
      ? verifiedBody(response.body, { imageId: announced.imageId, size: announced.size, checksum: announced.checksums })
      : response.body;
    return { decline: { response: { ...response, body: body as OriginResponse['body'] }, bypass: reason } };
  }

  private watch(fill: Fill): void {
    fill.done.then(
      (committed) => {
        if (committed) this.metrics.fillsCompleted.inc();
        else if (fill.diskFailure) this.metrics.fillFailures.inc({ reason: 'local' });
      },
      (error: unknown) => {
        this.metrics.fillFailures.inc({ reason: fillFailureReason(error) });
        this.logger.warn(
          { imageId: fill.imageId, err: (error as Error).message },
          'cache fill failed; nothing was cached',
        );
      },
    );
  }

  /** Glance metadata (checksums, size), fetched with the client's credentials; not ok when refused. */
  private async fetchMetadata(
    imageId: string,
    headers: OriginHeaders,
  ): Promise<{ ok: boolean; value: GlanceImageMetadata | null }> {
    const url = this.origin.metadataUrl(imageId);
    if (!url) return { ok: true, value: null };
    const response = await this.origin.request(url, {
      method: 'GET',
      headers: { ...headers, accept: 'application/json' },
    });
    if (response.statusCode < 200 || response.statusCode >= 300) {
      discard(response.body);
      return { ok: false, value: null };
    }
    try {
      const parsed: unknown = JSON.parse((await readBounded(response.body, MAX_METADATA + 1)).toString('utf8'));
      return {
        ok: true,
        value: typeof parsed === 'object' && parsed !== null ? (parsed as GlanceImageMetadata) : null,
      };
    } catch {
      return { ok: true, value: null };
    }
  }
}

/** What the origin announced about a 200's body: its size and checksums. */
interface Announcement extends AnnouncedChecksums {
  imageId: string;
  /** Content-Length, else Glance's `size`. */
  size: number | undefined;
}

/**
 * Reads the size and checksums a response and its metadata announce.
 * @throws {OriginResponseError} (the client gets 502 before any byte, nothing is cached) when
 * a checksum is announced but unreadable, or they contradict each other: Content-Length and Glance's `size` differ, or the body
 * carries a transfer coding other than chunked (undici would hand over coded bytes).
 */
function announce(imageId: string, response: OriginResponse, metadata: GlanceImageMetadata | null): Announcement {
  const fail = (reason: string) => {
    discard(response.body);
    return new OriginResponseError(`image ${imageId}: ${reason}`);
  };
  const codings = tokens(response.headers['transfer-encoding']).filter((coding) => coding !== 'chunked');
  if (codings.length > 0) throw fail(`it is sent with Transfer-Encoding ${codings.join(', ')}`);
  const lengthHeader = headerValue(response.headers, 'content-length');
  const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader.trim()) ? Number(lengthHeader) : undefined;
  const metadataSize =
    typeof metadata?.size === 'number' && Number.isSafeInteger(metadata.size) ? metadata.size : undefined;
  if (length !== undefined && metadataSize !== undefined && length !== metadataSize) {
    throw fail(`Content-Length is ${length} bytes, its metadata says ${metadataSize}`);
  }
  const size = length ?? metadataSize;
  let checksums: AnnouncedChecksums;
  try {
    checksums = announcedChecksums(metadata, headerValue(response.headers, 'content-md5'));
  } catch (error) {
    // A checksum announced but unreadable: refused like a contradiction (origin-checksum.ts).
    throw fail((error as Error).message);
  }
  return { imageId, size: size !== undefined && Number.isSafeInteger(size) ? size : undefined, ...checksums };
}

/** True when the body carries a content coding (RFC 9110 §8.4) other than identity. */
function contentCoded(headers: OriginResponse['headers']): boolean {
  return tokens(headers['content-encoding']).some((coding) => coding !== 'identity');
}

function tokens(value: string | string[] | undefined): string[] {
  return [value ?? []]
    .flat()
    .flatMap((item) => item.split(','))
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item.length > 0);
}
