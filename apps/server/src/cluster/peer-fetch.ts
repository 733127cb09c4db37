import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { FillStartResult, Logger } from '@imgcache/core';
import type { Cluster } from '@imgcache/cluster-postgres';
import type { Admission } from '../admission.js';
import type { Authorizer } from '../authorizer.js';
import { downloadImage, type OriginTimeouts } from '../origin-download.js';
import type { Declined, OriginFillInfo } from '../origin-fill.js';
import { discard, forwardedHeaders, headerValue, returnedHeaders, type Origin, type OriginResponse } from '../origin.js';
import { verifiedBody } from '../verified-body.js';
import type { ClusterMetrics } from './cluster-metrics.js';
import type { CopyPolicy } from './copy-policy.js';
import { PEER_HEADER, signPeerRequest } from './peer-auth.js';
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
 * - When the owner is this node, unknown, unreachable or failing (5xx), the answer is
 *   null: the caller goes to the origin.
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
    const { cluster, peers, metrics } = this.context;
    if (peers.isPeer(incoming)) return null;
    const owner = cluster.ownerOf(imageId);
    if (!owner || owner.nodeId === cluster.nodeId) return null;
    if (!this.context.public) {
      const decision = await this.context.authorizer.check(imageId, incoming);
      if (!decision.allowed) return { decline: { response: refusalResponse(decision), bypass: null } };
    }
    const path = `/v2/images/${encodeURIComponent(imageId)}/file`;
    const headers = forwardedHeaders(incoming, { wholeImage: true });
    headers[PEER_HEADER] = signPeerRequest(this.context.secret, cluster.nodeId, 'GET', path);
    const download = new AbortController();
    let response: OriginResponse;
    try {
      response = await downloadImage(`${owner.url}${path}`, { headers, signal: download.signal, timeouts: this.context.timeouts });
    } catch (error) {
      metrics.originFallbacks.inc({ reason: 'unreachable' });
      this.context.logger.warn({ imageId, owner: owner.nodeId, url: owner.url, err: (error as Error).message }, 'owner unreachable; fetching from the origin');
      return null;
    }
    if (response.statusCode >= 500) {
      discard(response.body);
      metrics.originFallbacks.inc({ reason: 'owner_error' });
      this.context.logger.warn({ imageId, owner: owner.nodeId, status: response.statusCode }, 'owner failed; fetching from the origin');
      return null;
    }
    metrics.peerFetches.inc({ peer: owner.nodeId, status: String(response.statusCode) });
    for (const name of OWNER_ONLY) delete response.headers[name];
    if (response.statusCode !== 200) return { decline: { response, bypass: null } };
    const lengthHeader = headerValue(response.headers, 'content-length');
    const size = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const recorded = CHECKSUM_TAG.exec(headerValue(response.headers, 'etag') ?? '')?.[1];
    const checksum = recorded ? [recorded] : [];
    if (size !== undefined && recorded) {
      const origin = this.context.origin;
      const resume = { download: (range: string, signal: AbortSignal) => origin.download(origin.dataUrl(imageId), { headers: withRange(forwardedHeaders(incoming, { wholeImage: true }), range), signal }) };
      const body = resumingBody(response.body, size, resume, download.signal, (offset) => {
        metrics.originFallbacks.inc({ reason: 'resumed' });
        this.context.logger.warn({ imageId, owner: owner.nodeId, offset }, 'owner broke off mid-transfer; resuming from the origin');
      });
      response = { ...response, body: body as OriginResponse['body'] };
    }
    if (!this.context.copies.keep(imageId)) {
      return { decline: { response: { ...response, body: verifiedBody(response.body, { imageId, size, checksum }) as OriginResponse['body'] }, bypass: null } };
    }
    const admission = await this.context.admission.admit(size);
    if (!admission.admitted) {
      return { decline: { response: { ...response, body: verifiedBody(response.body, { imageId, size, checksum }) as OriginResponse['body'] }, bypass: admission.reason } };
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
  const headers: OriginResponse['headers'] = decision.status === 204 ? {} : { 'content-length': String(decision.body.byteLength) };
  if (decision.contentType) headers['content-type'] = decision.contentType;
  return { statusCode: decision.status, headers, body: Readable.from([decision.body]) as OriginResponse['body'] };
}
