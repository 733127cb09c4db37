import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { FillStartResult, Logger } from '@imgcache/core';
import type { Cluster, FillLeases } from '@imgcache/cluster-postgres';
import type { Admission } from '../admission.js';
import type { Authorizer } from '../authorizer.js';
import { downloadImage, type OriginTimeouts } from '../origin-download.js';
import type { Declined, OriginFillInfo } from '../origin-fill.js';
import {
  discard,
  forwardedHeaders,
  headerValue,
  returnedHeaders,
  type Origin,
  type OriginResponse,
} from '../origin.js';
import { verifiedBody } from '../verified-body.js';
import type { ClusterMetrics } from './cluster-metrics.js';
import type { CopyPolicy } from './copy-policy.js';
import { PEER_HEADER, PEER_REFUSED_HEADER, signPeerRequest } from './peer-auth.js';
import type { PeerRequests } from './peer-requests.js';
import { resumingBody, withRange } from './resuming-body.js';

/** What the peer fetcher needs of the node. */
export interface PeerFetchContext {
  cluster: Pick<Cluster, 'nodeId' | 'ownerOf'>;
  secret: string;
  peers: PeerRequests;
  authorizer: Authorizer;
  /** Where the rest of an image comes from when its owner breaks off mid-transfer. */
  origin: Origin;
  admission: Admission;
  copies: CopyPolicy;
  /** Fill leases for fills that do not go through the owner; none: go to the origin. */
  leases?: FillLeases | undefined;
  /** Milliseconds a lease lasts unless renewed. */
  leaseMs: number;
  /** Whether this node's fill of an image still runs (its lease is renewed meanwhile). */
  isBeingCachedHere: (imageId: string) => boolean;
  metrics: ClusterMetrics;
  logger: Logger;
  /** Serve without asking the origin (the server runs `--public`). */
  public: boolean;
  timeouts: OriginTimeouts;
}

/** A `"algorithm:hex"` strong entity tag, as every node sends for a recorded checksum. */
const CHECKSUM_TAG = /^"((?:md5|sha256|sha512):[0-9a-f]+)"$/;

/** Response headers of the owner that describe its own answer, not the image. */
const OWNER_ONLY = ['x-cache', 'connection', 'keep-alive', 'date'];

/**
 * The non-owner's side of a miss: fetch the image from its owner instead of the origin.
 *
 * - The client's authorisation is checked here, against the origin, as for a hit: a peer
 *   serves cached bytes, so only a client the origin would serve may have them.
 * - The request goes to the owner with the client's credentials (the owner fetches from
 *   the origin with them on its miss) and a signature of the shared secret; the owner
 *   serves it from its cache or its single fill and never forwards it again (one hop).
 * - The owner's body is checked against its Content-Length and ETag checksum, and cached
 *   here or only relayed, as the copy policy says.
 * - When the owner is this node or unknown, the answer is null: the caller goes to the
 *   origin. When it is unreachable or failing (5xx), the node claims the image's fill
 *   lease and goes to the origin, or streams from the node that holds the lease, so the
 *   origin still sees one fetch.
 * - When the owner breaks off mid-transfer, the rest is fetched from the origin with a
 *   Range request (if the owner announced the size and checksum that make the splice
 *   checkable), so the client's download completes.
 */
export class PeerFetcher {
  constructor(private readonly context: PeerFetchContext) {}

  /**
   * Starts a fill from the owner, declines with the client's refusal or the owner's
   * answer, or returns null to fetch from the origin.
   * @throws {OriginError} when the origin cannot be asked for the client's authorisation.
   */
  async start(imageId: string, incoming: IncomingHttpHeaders): Promise<FillStartResult<Declined> | null> {
    const { cluster, peers } = this.context;
    if (peers.isPeer(incoming)) return null;
    const owner = cluster.ownerOf(imageId);
    if (!owner || owner.nodeId === cluster.nodeId) return null;
    if (!this.context.public) {
      const decision = await this.context.authorizer.check(imageId, incoming);
      if (!decision.allowed) return { decline: { response: refusalResponse(decision), bypass: null } };
    }
    return (await this.fetchFrom(owner, imageId, incoming)) ?? this.withoutOwner(imageId, incoming);
  }

  /**
   * The owner could not serve: claim the image's fill lease and go to the origin (null),
   * or stream from the node that holds it. Without the database, the origin.
   */
  private async withoutOwner(
    imageId: string,
    incoming: IncomingHttpHeaders,
  ): Promise<FillStartResult<Declined> | null> {
    const { leases } = this.context;
    if (!leases) return null;
    const claim = await leases.claim(imageId).catch((error: unknown) => {
      this.context.logger.warn(
        { imageId, err: (error as Error).message },
        'could not claim the fill lease; fetching from the origin',
      );
      return null;
    });
    if (!claim) return null;
    if (claim.mine) {
      this.holdWhileFilling(imageId);
      return null;
    }
    const fromHolder = await this.fetchFrom(claim.holder, imageId, incoming);
    if (fromHolder) this.context.metrics.leaseJoins.inc();
    return fromHolder;
  }

  /** Renews this node's lease while its fill of the image runs, then releases it. */
  private holdWhileFilling(imageId: string): void {
    const { leases, isBeingCachedHere, leaseMs } = this.context;
    const timer = setInterval(() => {
      if (isBeingCachedHere(imageId)) return void leases!.renew(imageId).catch(() => undefined);
      clearInterval(timer);
      void leases!.release(imageId).catch(() => undefined);
    }, leaseMs / 3);
    timer.unref();
  }

  /**
   * Fetches the image from a peer (its owner, or the holder of its fill lease), signed.
   * @returns null when the peer is unreachable, fails (5xx) or refuses this node's signature.
   */
  private async fetchFrom(
    peer: { nodeId: string; url: string },
    imageId: string,
    incoming: IncomingHttpHeaders,
  ): Promise<FillStartResult<Declined> | null> {
    const { cluster, metrics } = this.context;
    const path = `/v2/images/${encodeURIComponent(imageId)}/file`;
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    headers[PEER_HEADER] = signPeerRequest(this.context.secret, cluster.nodeId, 'GET', path);
    const download = new AbortController();
    let response: OriginResponse;
    try {
      response = await downloadImage(`${peer.url}${path}`, {
        headers,
        signal: download.signal,
        timeouts: this.context.timeouts,
      });
    } catch (error) {
      metrics.originFallbacks.inc({ reason: 'unreachable' });
      this.context.logger.warn(
        { imageId, peer: peer.nodeId, url: peer.url, err: (error as Error).message },
        'peer unreachable; fetching elsewhere',
      );
      return null;
    }
    if (response.statusCode === 401 && headerValue(response.headers, PEER_REFUSED_HEADER) !== undefined) {
      // A cluster misconfiguration, not the client's fault: the client still gets the image.
      discard(response.body);
      metrics.originFallbacks.inc({ reason: 'peer_refused' });
      this.context.logger.error(
        { imageId, peer: peer.nodeId, url: peer.url },
        "a peer refused this node's signature: the nodes do not share one --cluster-secret, or their clocks differ; fetching from the origin",
      );
      return null;
    }
    if (response.statusCode >= 500) {
      discard(response.body);
      metrics.originFallbacks.inc({ reason: 'owner_error' });
      this.context.logger.warn(
        { imageId, peer: peer.nodeId, status: response.statusCode },
        'peer failed; fetching elsewhere',
      );
      return null;
    }
    metrics.peerFetches.inc({ peer: peer.nodeId, status: String(response.statusCode) });
    for (const name of OWNER_ONLY) delete response.headers[name];
    if (response.statusCode !== 200) return { decline: { response, bypass: null } };
    const lengthHeader = headerValue(response.headers, 'content-length');
    const size = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const recorded = CHECKSUM_TAG.exec(headerValue(response.headers, 'etag') ?? '')?.[1];
    const checksum = recorded ? [recorded] : [];
    if (size !== undefined && recorded) {
      const origin = this.context.origin;
      const resume = {
        download: (range: string, signal: AbortSignal) =>
          origin.download(origin.dataUrl(imageId), {
            headers: withRange(forwardedHeaders(incoming, { wholeImage: true }), range),
            signal,
          }),
      };
      const body = resumingBody(response.body, size, resume, download.signal, (offset) => {
        metrics.originFallbacks.inc({ reason: 'resumed' });
        this.context.logger.warn(
          { imageId, peer: peer.nodeId, offset },
          'peer broke off mid-transfer; resuming from the origin',
        );
      });
      response = { ...response, body: body as OriginResponse['body'] };
    }
    if (!this.context.copies.keep(imageId)) {
      return {
        decline: {
          response: {
            ...response,
            body: verifiedBody(response.body, { imageId, size, checksum }) as OriginResponse['body'],
          },
          bypass: null,
        },
      };
    }
    const admission = await this.context.admission.admit(size);
    if (!admission.admitted) {
      return {
        decline: {
          response: {
            ...response,
            body: verifiedBody(response.body, { imageId, size, checksum }) as OriginResponse['body'],
          },
          bypass: admission.reason,
        },
      };
    }
    // The fill reads the body; an abort it causes must not surface as an uncaught stream error.
    response.body.on('error', () => undefined);
    const info: OriginFillInfo = { recorded, headers: returnedHeaders(response.headers), statusCode: 200 };
    return {
      source: {
        body: response.body,
        size,
        checksum,
        recordAlgorithm: recorded ? (recorded.split(':')[0] as 'md5' | 'sha256' | 'sha512') : undefined,
        info,
        signal: download.signal,
        onSettled: () => admission.release(),
      },
    };
  }
}

/** The origin's refusal of the client, as a response relayed unchanged. */
function refusalResponse(decision: { status: number; contentType: string | undefined; body: Buffer }): OriginResponse {
  const headers: OriginResponse['headers'] =
    decision.status === 204 ? {} : { 'content-length': String(decision.body.byteLength) };
  if (decision.contentType) headers['content-type'] = decision.contentType;
  return { statusCode: decision.status, headers, body: Readable.from([decision.body]) as OriginResponse['body'] };
}
