import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestResult, ServerMetrics } from './metrics.js';
import { ResponseTracker } from './response-tracker.js';
import { STALE_WARNING, staleGrantOf } from './stale-serving.js';

/** Paths whose second segment after `/v2/images/` or `/v2/cache/` is an image id. */
// `/v2/images/{id}/…`, `/v2/cache/{id}`, `/v2/cache/nodes/{id}`; never the cluster's command routes.
const IMAGE_PATH = /^\/v2\/(?:images|cache\/nodes|cache(?!\/cluster(?:\/|$)))\/([^/]+)/;
/** Longest image id logged (ids are at most 255 characters; anything longer is cut). */
const MAX_LOGGED_ID = 255;

/** The fields of the one line logged per request (message `request`). */
export interface RequestLogLine {
  method: string;
  /** The request path, without its query string. */
  path: string;
  /** Status sent; 0 when the connection ended before any answer. */
  status: number;
  /** Body bytes handed to the connection (0 for HEAD, 204 and 304). */
  bytes: number;
  /** Milliseconds from the request's arrival to the end of its response, to 0.1 ms. */
  durationMs: number;
  /** The `X-Cache` header sent, when one was. */
  xCache?: string;
  /** The image the request was about, when its path names one. */
  imageId?: string;
  /** True when the connection closed before the whole response was sent. */
  aborted?: true;
}

/**
 * Watches every response, however it is written (the framework's replies and the
 * download route's own socket writes alike), and:
 * - logs one line per request at info once the response ends or breaks off
 *   ({@link RequestLogLine}, through the server's logger);
 * - counts requests to `imageRoute` in `imgcache_requests_total` by the `X-Cache` header
 *   their client got, at the moment it is sent (`error` when none was: a refusal, a failure
 *   before any answer), so the counters always agree with what clients saw;
 * - turns a response marked stale (see stale-serving.ts) into `X-Cache: …-STALE` with a
 *   `Warning` header, and counts and logs it.
 */
export function registerRequestLog(
  app: FastifyInstance,
  options: { metrics: ServerMetrics; imageRoute: string },
): void {
  const { metrics } = options;
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    const counted = request.routeOptions.url === options.imageRoute;
    const response = reply.raw;
    const tracker = new ResponseTracker(response, (head) => {
      const grant = staleGrantOf(response);
      const xCache = head.get('x-cache');
      // Only an answer from the cache is marked: an error after the grant carries no X-Cache.
      if (grant && xCache !== undefined) {
        head.set('x-cache', `${xCache}-STALE`);
        head.set('warning', STALE_WARNING);
        metrics.staleServes.inc({ reason: grant.reason });
        request.log.warn(
          {
            imageId: imageIdOf(pathOf(request)),
            reason: grant.reason,
            authorisedSecondsAgo: grant.ageSeconds,
            err: grant.detail,
          },
          'origin unavailable; serving the cached image on an earlier authorisation',
        );
      }
      if (counted) metrics.requests.inc({ result: resultOf(head.get('x-cache')) });
    });
    response.once('close', () => {
      // A connection that broke before any answer still counts, as the failure it is.
      if (counted && tracker.status === 0) metrics.requests.inc({ result: 'error' });
      const line: RequestLogLine = {
        method: request.method,
        path: pathOf(request),
        status: tracker.status,
        bytes: tracker.bytes,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      };
      if (tracker.xCache !== undefined) line.xCache = tracker.xCache;
      const imageId = imageIdOf(line.path);
      if (imageId !== undefined) line.imageId = imageId;
      if (!response.writableFinished) line.aborted = true;
      request.log.info(line, 'request');
    });
    done();
  });
}

function pathOf(request: FastifyRequest): string {
  return (request.raw.url ?? '/').split('?')[0]!;
}

/** The `result` label of a response's `X-Cache` value: `HIT-STALE` gives `hit_stale`; none gives `error`. */
export function resultOf(xCache: string | undefined): RequestResult {
  return xCache === undefined ? 'error' : (xCache.toLowerCase().replace(/-/g, '_') as RequestResult);
}

function imageIdOf(path: string): string | undefined {
  const match = IMAGE_PATH.exec(path);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!).slice(0, MAX_LOGGED_ID);
  } catch {
    return match[1]!.slice(0, MAX_LOGGED_ID);
  }
}
