import type { OutgoingHttpHeaders } from 'node:http';
import { ImgcacheError, isValidImageId, type CachedImage, type ImageCache, type Logger } from '@imgcache/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthDecision, Authorizer } from './authorizer.js';
import type { BeginResult, FillCoordinator } from './fill-coordinator.js';
import { completeFromOriginOnLocalFailure, isLocalWriteFailure } from './local-failover.js';
import type { RequestResult, ServerMetrics } from './metrics.js';
import { contentMd5Header } from './origin-checksum.js';
import { forwardedHeaders, type Origin } from './origin.js';
import { ifRangeAllows, matchesIfNoneMatch, parseRange } from './range.js';
import { relayOriginResponse, sendError, sendInvalidId, streamResponse } from './respond.js';

export interface ImageRouteContext {
  cache: ImageCache;
  origin: Origin;
  coordinator: FillCoordinator;
  authorizer: Authorizer;
  metrics: ServerMetrics;
  logger: Logger;
  /** Serve hits without asking the origin. */
  public: boolean;
}

type Reply = FastifyReply;
type Request = FastifyRequest<{ Params: { id: string } }>;

const OCTET_STREAM = 'application/octet-stream';

/** The download route's path pattern. */
export const IMAGE_ROUTE = '/v2/images/:id/file';

/** Registers `GET` and `HEAD /v2/images/{id}/file`: hits from the cache, misses single-flight. */
export function registerImageRoute(app: FastifyInstance, context: ImageRouteContext): void {
  const { cache, coordinator, authorizer, metrics } = context;

  const count = (result: RequestResult) => metrics.requests.inc({ result });

  /** Serves a cached image; false when it vanished (pruned, deleted) before it was opened. */
  async function serveHit(request: Request, reply: Reply, entry: CachedImage): Promise<boolean> {
    const etag = `"${entry.checksum}"`;
    const lastModified = entry.lastModified.toUTCString();
    const headers: OutgoingHttpHeaders = {
      'content-type': OCTET_STREAM,
      'accept-ranges': 'bytes',
      etag,
      'last-modified': lastModified,
      'x-cache': 'HIT',
    };
    const md5 = contentMd5Header(entry.checksum);
    if (md5) headers['content-md5'] = md5;
    if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) {
      count('hit');
      await streamResponse(reply, 304, { etag, 'last-modified': lastModified, 'x-cache': 'HIT' }, null);
      return true;
    }
    const range = ifRangeAllows(header(request, 'if-range'), etag, lastModified)
      ? parseRange(header(request, 'range'), entry.size)
      : ({ kind: 'none' } as const);
    if (range.kind === 'unsatisfiable') {
      count('hit');
      await streamResponse(reply, 416, { 'content-range': `bytes */${entry.size}`, 'x-cache': 'HIT', 'content-length': 0 }, null);
      return true;
    }
    const status = range.kind === 'range' ? 206 : 200;
    if (range.kind === 'range') {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${entry.size}`;
      headers['content-length'] = range.end - range.start + 1;
    } else {
      headers['content-length'] = entry.size;
    }
    if (request.method === 'HEAD') {
      count('hit');
      await streamResponse(reply, status, headers, null);
      return true;
    }
    let stream;
    try {
      stream = await cache.openForRead(entry.imageId, range.kind === 'range' ? { start: range.start, end: range.end } : {});
    } catch (error) {
      if (ImgcacheError.is(error, 'ERR_IMGCACHE_NOT_CACHED')) return false;
      throw error;
    }
    count('hit');
    const sent = await streamResponse(reply, status, headers, stream);
    metrics.servedBytes.inc({ source: 'cache' }, sent.bytes);
    return true;
  }

  /** Streams this request's follower of a fill; falls back to a plain proxy when the fill could not start. */
  async function streamFill(request: Request, reply: Reply, result: Extract<BeginResult, { kind: 'follow' }>): Promise<void> {
    const { fill, coalesced } = result;
    const iterator = result.bytes[Symbol.asyncIterator]();
    if (coalesced) metrics.coalescedWaiters.inc();
    try {
      let first: IteratorResult<Uint8Array>;
      try {
        first = await iterator.next();
      } catch (error) {
        // A fill that found the image not cacheable (another process writes it) ends at once,
        // before its followers fail; a cancelled one may still be waiting on the origin.
        const notCacheable =
          ImgcacheError.is(error, 'ERR_IMGCACHE_ABORTED') && !cache.isFilling(fill.imageId) && (await fill.done.catch(() => null)) === false;
        if (notCacheable) return await proxyDownload(request, reply, 'BYPASS');
        // The cache's disk failed before this client got a byte: the origin still has the image.
        if (isLocalWriteFailure(error)) {
          request.log.warn({ imageId: fill.imageId, err: String(error) }, 'cache write failed; proxying the download');
          return await proxyDownload(request, reply, 'BYPASS');
        }
        count('error');
        sendError(reply, 502, `The image could not be fetched from the origin: ${(error as Error).message}`);
        return;
      }
      count(coalesced ? 'coalesced' : 'miss');
      const headers: OutgoingHttpHeaders = {
        'content-type': OCTET_STREAM,
        'content-length': fill.size,
        'x-cache': coalesced ? 'COALESCED' : 'MISS',
      };
      if (fill.contentMd5) headers['content-md5'] = fill.contentMd5;
      // A full or failing cache disk must not cost the client its download: the rest comes from the origin.
      const body = completeFromOriginOnLocalFailure(resume(first, iterator), {
        origin: context.origin,
        imageId: fill.imageId,
        incoming: request.headers,
        size: fill.size,
        checksum: fill.checksum,
        onFailover: (error, sentBytes) => {
          metrics.originFetches.inc({ purpose: 'download' });
          request.log.warn({ imageId: fill.imageId, sentBytes, err: String(error) }, 'cache write failed; completing the download from the origin');
        },
      });
      const sent = await streamResponse(reply, 200, headers, body);
      metrics.servedBytes.inc({ source: 'origin' }, sent.bytes);
      // A client that went away is routine; a fill that failed under it is worth a line.
      if (sent.error) request.log.debug({ imageId: fill.imageId, bytes: sent.bytes, err: String(sent.error) }, 'download ended early');
    } finally {
      if (coalesced) metrics.coalescedWaiters.dec();
    }
  }

  /** Sends the client's own request to the origin and relays the answer, uncached. */
  async function proxyDownload(request: Request, reply: Reply, xCache: string): Promise<void> {
    const response = await context.origin.request(context.origin.dataUrl(request.params.id), {
      method: request.method,
      headers: forwardedHeaders(request.headers),
    });
    count(response.statusCode >= 400 ? 'error' : 'bypass');
    const sent = await relayOriginResponse(reply, response, { 'x-cache': xCache });
    metrics.servedBytes.inc({ source: 'origin' }, sent.bytes);
  }

  async function sendRefusal(reply: Reply, decision: Exclude<AuthDecision, { allowed: true }>): Promise<void> {
    metrics.authChecks.inc({ result: 'refused' });
    count('error');
    const headers: OutgoingHttpHeaders = { 'content-length': decision.body.byteLength };
    if (decision.contentType) headers['content-type'] = decision.contentType;
    await streamResponse(reply, decision.status, headers, [decision.body]);
  }

  /** Serves a hit after the origin authorised the client; false when it is no longer cached. */
  async function tryHit(request: Request, reply: Reply, entry: CachedImage): Promise<boolean> {
    if (!context.public) {
      const decision = await authorizer.check(entry.imageId, request.headers);
      if (!decision.allowed) {
        await sendRefusal(reply, decision);
        return true;
      }
      metrics.authChecks.inc({ result: 'allowed' });
    }
    return serveHit(request, reply, entry);
  }

  async function handle(request: Request, reply: Reply): Promise<void> {
    const imageId = request.params.id;
    if (!isValidImageId(imageId)) return void sendInvalidId(reply, imageId);
    const entry = await cache.getCachedImage(imageId);
    if (entry && (await tryHit(request, reply, entry))) return;
    // Partial and HEAD requests never start a fill: a partial entry must not exist.
    if (request.method === 'HEAD' || request.headers.range !== undefined) return proxyDownload(request, reply, 'MISS');
    // Lets a follower waiting for the next bytes stop at once when its client disconnects.
    const disconnected = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) disconnected.abort(new Error('client disconnected'));
    });
    const result = await coordinator.begin(imageId, request.headers, {
      purpose: 'download',
      signal: disconnected.signal,
      authorize: context.public ? undefined : () => authorizer.check(imageId, request.headers),
    });
    switch (result.kind) {
      case 'follow':
        return streamFill(request, reply, result);
      case 'refused':
        return sendRefusal(reply, result.decision);
      case 'cached': {
        const cached = await cache.getCachedImage(imageId);
        if (cached && (await tryHit(request, reply, cached))) return;
        return proxyDownload(request, reply, 'MISS');
      }
      case 'response': {
        count(result.response.statusCode >= 400 ? 'error' : result.bypass ? 'bypass' : 'miss');
        const sent = await relayOriginResponse(reply, result.response, { 'x-cache': result.bypass ? 'BYPASS' : 'MISS' });
        metrics.servedBytes.inc({ source: 'origin' }, sent.bytes);
        return;
      }
    }
  }

  app.route<{ Params: { id: string } }>({ method: ['GET', 'HEAD'], url: IMAGE_ROUTE, handler: handle });
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The first chunk already read, then the rest; closing it early closes the follower. */
async function* resume(first: IteratorResult<Uint8Array>, iterator: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  let finished = first.done === true;
  try {
    if (finished) return;
    yield first.value;
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) await iterator.return?.();
  }
}
