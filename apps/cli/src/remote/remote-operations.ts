import { ImgcacheError } from '@imgcache/core';
import { RemoteRequestError } from '../errors.js';
import type { ManagementClient } from './management-client.js';

/** One id's outcome of `queue-image`, the same shape locally and on a server. */
export type QueueOutcome = { imageId: string; queued: true } | { imageId: string; queued: false; reason: string };

/** One id's outcome of `delete-cached-image` / `delete-queued-image`. */
export interface DeleteOutcome {
  imageId: string;
  deleted: boolean;
}

/**
 * Queues images on a server. The queue route answers 202 for images already cached or
 * queued too, so the listing taken first tells which ids are; those are reported and left
 * alone, as `queue-image` does locally. As in Glance, the server refuses ids its origin
 * does not know (404) and images that are not active (400).
 * @throws {RemoteRequestError} when a request fails (ids queued before it stay queued).
 */
export async function queueOnServer(client: ManagementClient, ids: readonly string[]): Promise<QueueOutcome[]> {
  const listing = await client.listCache();
  const cached = new Set(listing.cachedImages.map((image) => image.imageId));
  const queued = new Set(listing.queuedImages);
  const outcomes: QueueOutcome[] = [];
  for (const imageId of ids) {
    if (cached.has(imageId) || queued.has(imageId)) {
      outcomes.push({ imageId, queued: false, reason: cached.has(imageId) ? 'already cached' : 'already queued' });
      continue;
    }
    try {
      await client.queueImage(imageId);
    } catch (error) {
      // The listing above proves the management API is there, so this 404 is about the image.
      if (ImgcacheError.is(error, 'ERR_IMGCACHE_CLI_REMOTE') && (error as RemoteRequestError).status === 404) {
        throw new RemoteRequestError(`cannot queue image ${imageId}: the server's origin does not know it`, 404, {
          cause: error,
        });
      }
      throw error;
    }
    queued.add(imageId);
    outcomes.push({ imageId, queued: true });
  }
  return outcomes;
}

/**
 * Deletes cached images or queue entries on a server. The delete routes answer the same
 * whether or not the id was there, so `deleted` says whether the listing taken first had
 * it. The delete is sent either way, in case the image arrived after the listing.
 * @throws {RemoteRequestError} when a request fails.
 */
export async function deleteOnServer(
  client: ManagementClient,
  what: 'cached' | 'queued',
  ids: readonly string[],
): Promise<DeleteOutcome[]> {
  const listing = await client.listCache();
  const present = new Set(
    what === 'cached' ? listing.cachedImages.map((image) => image.imageId) : listing.queuedImages,
  );
  const outcomes: DeleteOutcome[] = [];
  for (const imageId of ids) {
    await (what === 'cached' ? client.deleteCachedImage(imageId) : client.deleteQueuedImage(imageId));
    outcomes.push({ imageId, deleted: present.delete(imageId) });
  }
  return outcomes;
}
