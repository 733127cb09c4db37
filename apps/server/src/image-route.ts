import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { isValidImageId, type Fill, type ImageCache, type Logger, type OpenImage } from '@imgcache/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthDecision, Authorizer } from './authorizer.js';
import { sendFromFill } from './fill-response.js';
import { sendHit } from './hit-response.js';
import type { ServerMetrics } from './metrics.js';
import type { OriginFillInfo, OriginFills } from './origin-fill.js';
import { forwardedHeaders, type Origin } from './origin.js';
import { relayOriginResponse, sendInvalidId, streamResponse } from './respond.js';
import { markStale } from './stale-serving.js';
import { verifiedBody } from './verified-body.js';

export interface ImageRouteContext {
  cache: ImageCache;
  origin: Origin;
  fills: OriginFills;
  authorizer: Authorizer;
  metrics: ServerMetrics;
  logger: Logger;
  /** Serve hits without asking the origin. */
  public: boolean;
  /**
   * In a cluster: true for a request a peer node signed with the cluster secret. The peer
   * authorised its client against the origin before asking, so it is not asked again here.
   */
  trustedPeer?: ((headers: IncomingHttpHeaders) => boolean) | undefined;
  /** What a Range request for an uncached image does: start the fill and answer from it, or pass it to the origin. */
  rangeMiss: 'fill' | 'pass';
  /** X-Accel-Redirect prefix for hits that nginx sends, or null. */
  accelRedirect: string | null;
}

type Request = FastifyRequest<{ Params: { id: string } }>;

/** The download route's path pattern. */
export const IMAGE_ROUTE = '/v2/images/:id/file';

/**
 * Registers `GET` and `HEAD /v2/images/{id}/file`. A request is answered, in this order:
 * from the committed image (a hit), from this process's fill of it (joining the one origin
 * download), or by starting that fill. Hits and joins need the origin's authorisation
 * unless the server is public; the leader of a fill is authorised by its own origin request.
 */
export function registerImageRoute(app: FastifyInstance, context: ImageRouteContext): void {
  const { cache, fills, authorizer, metrics } = context;

  /** False when the client may read the image; true when the origin refused it (the refusal is sent). */
  async function refuse(request: Request, reply: FastifyReply, imageId: string): Promise<boolean> {
    if (context.public || context.trustedPeer?.(request.headers)) return false;
    const decision = await authorizer.check(imageId, request.headers);
    if (decision.allowed) {
      metrics.authChecks.inc({ result: 'allowed' });
      if (decision.stale) markStale(reply, decision.stale);
      return false;
    }
    await sendRefusal(reply, decision);
    return true;
  }

  async function sendRefusal(reply: FastifyReply, decision: Exclude<AuthDecision, { allowed: true }>): Promise<void> {
    metrics.authChecks.inc({ result: 'refused' });
    // RFC 9110 §8.6: no Content-Length on a 204 (Glance answers a data request of an image without data so).
    const headers: OutgoingHttpHeaders = decision.status === 204 ? {} : { 'content-length': decision.body.byteLength };
    if (decision.contentType) headers['content-type'] = decision.contentType;
    await streamResponse(reply, decision.status, headers, [decision.body]);
  }

  async function serveHit(request: Request, reply: FastifyReply, image: OpenImage): Promise<void> {
    try {
      if (await refuse(request, reply, image.imageId)) return;
      reply.hijack();
      const sent = await sendHit(request.method, request.headers, reply.raw, image, context.accelRedirect);
      metrics.servedBytes.inc({ source: 'cache' }, sent.bytes);
      // nginx sends these; whether it finished is its to know, so the hit counts now.
      if (sent.offloaded > 0) metrics.servedBytes.inc({ source: 'offload' }, sent.offloaded);
      // A hit counts once the whole body was handed to the client, however fast it closes.
      if (sent.withBody && sent.finished) cache.recordHit(image.imageId);
    } finally {
      cache.releaseImage(image);
    }
  }

  async function serveFill(request: Request, reply: FastifyReply, fill: Fill, leader: boolean): Promise<void> {
    if (!leader && (await refuse(request, reply, fill.imageId))) return;
    reply.hijack();
    if (!leader) metrics.coalescedWaiters.inc();
    try {
      const sent = await sendFromFill(request.method, request.headers, reply.raw, fill, leader ? 'MISS' : 'COALESCED');
      metrics.servedBytes.inc({ source: 'origin' }, sent.bytes);
      if (sent.error)
        request.log.debug(
          { imageId: fill.imageId, bytes: sent.bytes, err: String(sent.error) },
          'download ended early',
        );
    } finally {
      if (!leader) metrics.coalescedWaiters.dec();
    }
  }

  /** Sends the client's own request to the origin and relays the answer, uncached. */
  async function proxy(request: Request, reply: FastifyReply, xCache: string): Promise<void> {
    const response = await context.origin.request(context.origin.dataUrl(request.params.id), {
      method: request.method,
      headers: forwardedHeaders(request.headers, { head: request.method === 'HEAD' }),
    });
    const sent = await relayOriginResponse(reply, response, { 'x-cache': xCache });
    countImageBytes(response.statusCode, sent.bytes);
  }

  /** served_bytes{source="origin"} counts image bytes: a relayed error body (404, 500…) is none. */
  function countImageBytes(status: number, bytes: number): void {
    if (status >= 200 && status < 300) metrics.servedBytes.inc({ source: 'origin' }, bytes);
  }

  async function handle(request: Request, reply: FastifyReply): Promise<void> {
    const imageId = request.params.id;
    if (!isValidImageId(imageId)) return void sendInvalidId(reply, imageId);
    const image = await cache.openImage(imageId);
    if (image) return serveHit(request, reply, image);
    const running = cache.getFill(imageId);
    if (running?.isVerified) {
      // Verified and being committed: answer as the hit it is about to be (same validators).
      // If the commit failed, the image is not cached: fetch it anew below, like any miss.
      if (await running.done.catch(() => null)) return handle(request, reply);
    } else if (running) {
      return serveFill(request, reply, running, false);
    }
    // A HEAD asks for no bytes: it never starts a download, and is passed on without Range.
    if (request.method === 'HEAD') return proxy(request, reply, 'MISS');
    if (request.headers.range !== undefined && context.rangeMiss === 'pass') return proxy(request, reply, 'MISS');
    const outcome = await fills.begin(imageId, request.headers, 'download');
    switch (outcome.kind) {
      case 'joined':
        return serveFill(request, reply, outcome.fill, outcome.leader);
      case 'cached': {
        const cached = await cache.openImage(imageId);
        return cached ? serveHit(request, reply, cached) : proxy(request, reply, 'MISS');
      }
      case 'declined': {
        const { response, bypass } = outcome.value;
        const sent = await relayOriginResponse(reply, response, { 'x-cache': bypass ? 'BYPASS' : 'MISS' });
        countImageBytes(response.statusCode, sent.bytes);
        return;
      }
      case 'pass': {
        const { source } = outcome;
        const info = source.info as OriginFillInfo;
        // Uncached, but checked as the fill would have checked it.
        const body = verifiedBody(source.body as AsyncIterable<Uint8Array>, {
          imageId,
          size: source.size,
          checksum: source.checksum,
        });
        const sent = await streamResponse(reply, info.statusCode, { ...info.headers, 'x-cache': 'BYPASS' }, body);
        metrics.servedBytes.inc({ source: 'origin' }, sent.bytes);
        return;
      }
      case 'busy':
        return proxy(request, reply, 'BYPASS');
    }
  }

  app.route<{ Params: { id: string } }>({ method: ['GET', 'HEAD'], url: IMAGE_ROUTE, handler: handle });
}
