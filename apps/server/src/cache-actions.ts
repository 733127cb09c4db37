import type { ImageCache } from '@imgcache/core';
import type { ClusterManagement } from './cluster/cluster-state.js';
import { lookupImage } from './image-lookup.js';
import type { Origin, OriginHeaders } from './origin.js';
import type { Prefetcher } from './prefetcher.js';

/** What the operator actions need: the cache, the prefetcher, and the origin with the server's own credentials. */
export interface CacheActionContext {
  cache: ImageCache;
  prefetcher: Prefetcher;
  origin: Origin;
  /** The server's own origin credentials (`--origin-token`), used to look images up. */
  originHeaders: OriginHeaders;
  /** With `--cluster`: a queued image goes to its owner, and a delete reaches every node. */
  cluster?: ClusterManagement | undefined;
}

/** An action's answer: an HTTP status, with a message when it did not succeed. */
export type ActionResult = { ok: true; status: number } | { ok: false; status: number; message: string };

/**
 * Queues an image for prefetching, as Glance's `PUT /v2/cache/{id}` does: 404 when the
 * origin does not know it, 400 when it is not active there, 502 when the origin's answer
 * says nothing (credentials refused, server error); 202 otherwise. Unlike Glance, an image
 * already cached is not downloaded again. Queueing clears the image's failed attempts.
 * The id must have been checked by the caller.
 * @throws {OriginError} when the origin cannot be reached.
 */
export async function queueImageAction(context: CacheActionContext, imageId: string): Promise<ActionResult> {
  const { cache, prefetcher, origin, originHeaders } = context;
  const found = await lookupImage(origin, imageId, originHeaders);
  if (found.kind === 'missing')
    return { ok: false, status: 404, message: `Image ${imageId} is not known to the origin.` };
  if (found.kind === 'unknown') {
    const hint = found.statusCode === 401 || found.statusCode === 403 ? ' (check --origin-token)' : '';
    return {
      ok: false,
      status: 502,
      message: `The origin answered ${found.statusCode} when asked about image ${imageId}${hint}; it was not queued.`,
    };
  }
  if (!found.active) {
    return {
      ok: false,
      status: 400,
      message: `Only active images can be queued; image ${imageId} is ${found.status ?? 'without data'} at the origin.`,
    };
  }
  // In a cluster the image's owner fetches it (and other nodes get it from there).
  if (await context.cluster?.queueForOwner(imageId)) return { ok: true, status: 202 };
  prefetcher.retryNow(imageId);
  // Already cached: nothing to fetch (Glance would download it again).
  if (!(await cache.isCached(imageId))) {
    await cache.queueImage(imageId);
    prefetcher.kick();
  }
  return { ok: true, status: 202 };
}

/**
 * Deletes an image's cached copy and queue entry and cancels its fill, as Glance's
 * `DELETE /v2/cache/{id}`: 404 only when the image is neither cached nor queued nor being
 * filled here, nor known to the origin; 204 otherwise. The id must have been checked by the caller.
 */
export async function deleteImageAction(context: CacheActionContext, imageId: string): Promise<ActionResult> {
  const { cache, prefetcher, origin, originHeaders } = context;
  const held = cache.isBeingCachedHere(imageId) || (await cache.isCached(imageId)) || (await cache.isQueued(imageId));
  if (!held && (await lookupImage(origin, imageId, originHeaders).catch(() => null))?.kind === 'missing') {
    return {
      ok: false,
      status: 404,
      message: `Image ${imageId} is not known to the origin, nor cached or queued here.`,
    };
  }
  prefetcher.retryNow(imageId);
  await cache.deleteCachedImage(imageId);
  await cache.deleteQueuedImage(imageId);
  await context.cluster?.purge(imageId);
  return { ok: true, status: 204 };
}
