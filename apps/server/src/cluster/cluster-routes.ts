import { isValidImageId } from '@imgcache/core';
import type { FastifyInstance } from 'fastify';
import { createAdminGuard } from '../admin-auth.js';
import { sendError, sendInvalidId } from '../respond.js';
import type { ClusterState } from './cluster-state.js';

/**
 * `GET /v2/cache/nodes/{image_id}` (admin, as Glance 2024.1): the nodes that hold an
 * image, as `{ nodes: [url…], holders: [{ node_id, url, state, size, checksum, updated_at }] }`.
 */
export function registerClusterRoutes(app: FastifyInstance, state: ClusterState, adminToken: string | undefined): void {
  const guard = createAdminGuard(adminToken);
  const handle = async (request: { params: { id: string }; method: string }, reply: Parameters<typeof guard>[1]) => {
    if (!guard(request as Parameters<typeof guard>[0], reply)) return reply;
    if (request.method !== 'GET')
      return sendError(reply, 405, `Method ${request.method} is not allowed on /v2/cache/nodes/{image_id}.`, {
        allow: 'GET',
      });
    const imageId = request.params.id;
    if (!isValidImageId(imageId)) return sendInvalidId(reply, imageId);
    let holders: Awaited<ReturnType<ClusterState['holders']>>;
    try {
      holders = await state.holders(imageId);
    } catch (error) {
      return sendError(reply, 503, `The cluster database cannot be reached (${(error as Error).message}).`);
    }
    return reply
      .code(200)
      .type('application/json')
      .send(
        JSON.stringify({
          nodes: holders.filter((holder) => holder.state === 'cached').map((holder) => holder.url),
          holders: holders.map((holder) => ({
            node_id: holder.nodeId,
            url: holder.url,
            state: holder.state,
            size: holder.size,
            checksum: holder.checksum,
            updated_at: holder.updatedAt.getTime() / 1000,
          })),
        }),
      );
  };
  app.all<{ Params: { id: string } }>('/v2/cache/nodes/:id', handle);
  app.all<{ Params: { id: string } }>('/v2/cache/nodes/:id/', handle);
}
