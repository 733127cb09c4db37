import { isValidImageId, type CachedImage } from '@imgcache/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createAdminGuard } from './admin-auth.js';
import type { LoginThrottle } from './dashboard/login-throttle.js';
import { deleteImageAction, queueImageAction, type ActionResult, type CacheActionContext } from './cache-actions.js';
import { sendError, sendInvalidId } from './respond.js';

export interface ManagementContext extends CacheActionContext {
  adminToken: string | undefined;
  /** Wrong admin tokens per client address, shared with the dashboard's login. */
  tokenGuesses?: LoginThrottle | undefined;
}

type Handler = (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => Promise<unknown>;

const CLEAR_TARGETS = new Set(['', 'cache', 'queue']);

/** Path prefixes this server owns: nothing under them is ever sent to the origin. */
const NAMESPACES = ['/v2/cache', '/v2/cached_images', '/v2/queued_images'];

/**
 * Glance's cache management APIs with Glance's paths, status codes and JSON shapes: the v2
 * cache API (`/v2/cache`, API 2.14+) and the legacy `/v2/cached_images` and
 * `/v2/queued_images` routes. Each path answers with and without a trailing slash, and any
 * other path under these prefixes gets 404 here rather than going to the origin. Unlike
 * Glance, queueing an image that is already cached does not download it again.
 */
export function registerManagementRoutes(app: FastifyInstance, context: ManagementContext): void {
  const { cache, prefetcher } = context;
  const guard = createAdminGuard(context.adminToken, context.tokenGuesses);

  /** One path (and its trailing-slash twin), handlers by method, 405 with `Allow` for the rest; guard and id check first. */
  function route(url: string, handlers: Record<string, Handler>): void {
    const allow = Object.keys(handlers).sort().join(', ');
    const handle = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
      if (!guard(request, reply)) return reply;
      const handler = Object.hasOwn(handlers, request.method) ? handlers[request.method] : undefined;
      if (!handler) return sendError(reply, 405, `Method ${request.method} is not allowed on ${url}.`, { allow });
      const { id } = request.params;
      if (id !== undefined && !isValidImageId(id)) return sendInvalidId(reply, id);
      return handler(request, reply);
    };
    app.all<{ Params: { id?: string } }>(url, handle);
    app.all<{ Params: { id?: string } }>(`${url}/`, handle);
  }

  for (const namespace of NAMESPACES) {
    app.all(`${namespace}/*`, async (request, reply) => {
      if (!guard(request, reply)) return reply;
      return sendError(reply, 404, `No cache management route matches ${request.url.split('?')[0]!.slice(0, 200)}.`);
    });
  }

  const answer = (reply: FastifyReply, result: ActionResult) =>
    result.ok ? reply.code(result.status).send() : sendError(reply, result.status, result.message);
  const json = (reply: FastifyReply, status: number, body: unknown) =>
    reply.code(status).type('application/json').send(JSON.stringify(body));
  const id = (request: FastifyRequest<{ Params: { id?: string } }>) => request.params.id!;

  route('/v2/cache', {
    GET: async (request, reply) => {
      const { scope } = request.query as { scope?: string | string[] };
      if (scope !== undefined && scope !== 'cluster')
        return sendError(reply, 400, `scope must be "cluster" or absent, not ${JSON.stringify(scope)}.`);
      if (scope === 'cluster') {
        if (!context.cluster)
          return sendError(
            reply,
            400,
            'This server is not in a cluster (start it with --cluster): there is no cluster view.',
          );
        return json(reply, 200, await context.cluster.view());
      }
      const [cached, queued] = await Promise.all([cache.getCachedImages(), cache.getQueuedImages()]);
      return json(reply, 200, { cached_images: cached.map(toGlanceEntry), queued_images: queued });
    },
    DELETE: async (request, reply) => {
      const header = request.headers['x-image-cache-clear-target'];
      const target = ((Array.isArray(header) ? header[0] : header) ?? '').trim().toLowerCase();
      if (!CLEAR_TARGETS.has(target)) {
        return sendError(
          reply,
          400,
          `x-image-cache-clear-target must be "cache", "queue" or empty, not ${JSON.stringify(target)}.`,
        );
      }
      if (target !== 'queue') {
        await cache.deleteAllCachedImages();
      }
      if (target !== 'cache') await cache.deleteAllQueuedImages();
      return reply.code(204).send();
    },
  });

  route('/v2/cache/:id', {
    PUT: async (request, reply) => answer(reply, await queueImageAction(context, id(request))),
    DELETE: async (request, reply) => answer(reply, await deleteImageAction(context, id(request))),
  });

  route('/v2/cached_images', {
    GET: async (_request, reply) =>
      json(reply, 200, { cached_images: (await cache.getCachedImages()).map(toGlanceEntry) }),
    DELETE: async (_request, reply) => {
      return json(reply, 200, { num_deleted: await cache.deleteAllCachedImages() });
    },
  });

  route('/v2/cached_images/:id', {
    DELETE: async (request, reply) => {
      await cache.deleteCachedImage(id(request));
      return json(reply, 200, null);
    },
  });

  route('/v2/queued_images', {
    GET: async (_request, reply) => json(reply, 200, { queued_images: await cache.getQueuedImages() }),
    DELETE: async (_request, reply) => json(reply, 200, { num_deleted: await cache.deleteAllQueuedImages() }),
  });

  route('/v2/queued_images/:id', {
    // Glance's legacy API queues without asking whether the image exists; backoff bounds the retries.
    PUT: async (request, reply) => {
      prefetcher.retryNow(id(request));
      if (!(await cache.isCached(id(request)))) {
        await cache.queueImage(id(request));
        prefetcher.kick();
      }
      return json(reply, 200, null);
    },
    DELETE: async (request, reply) => {
      await cache.deleteQueuedImage(id(request));
      return json(reply, 200, null);
    },
  });
}

/** Glance's listing entry: times as numeric epoch seconds. */
function toGlanceEntry(image: CachedImage): Record<string, unknown> {
  return {
    image_id: image.imageId,
    hits: image.hits,
    last_accessed: image.lastAccessed.getTime() / 1000,
    last_modified: image.lastModified.getTime() / 1000,
    size: image.size,
  };
}
