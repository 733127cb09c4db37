import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { ImageCache } from '@imgcache/core';
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from './metrics.js';
import { discard, type Origin } from './origin.js';

const ORIGIN_PROBE_TIMEOUT_MS = 3000;

export interface OperationsContext {
  cache: ImageCache;
  origin: Origin;
  metrics: ServerMetrics;
  originHeaders: Record<string, string>;
}

/** `/healthz` (the process answers), `/readyz` (dir, driver and origin usable), `/metrics`. */
export function registerOperationsRoutes(app: FastifyInstance, context: OperationsContext): void {
  const { cache, origin, metrics } = context;

  app.route({
    method: ['GET', 'HEAD'],
    url: '/healthz',
    handler: async (_request, reply) => reply.send({ status: 'ok' }),
  });

  app.route({
    method: ['GET', 'HEAD'],
    url: '/readyz',
    handler: async (_request, reply) => {
      const [directory, driver, upstream] = await Promise.all([
        check(() => access(cache.layout.root, constants.W_OK)),
        check(() => cache.getStats()),
        check(() => probeOrigin(origin, context.originHeaders)),
      ]);
      const checks = { cache_dir: directory, driver, origin: upstream };
      const ready = Object.values(checks).every((value) => value === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
    },
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

async function check(probe: () => Promise<unknown>): Promise<string> {
  try {
    await probe();
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

/** Any HTTP answer proves the origin is reachable; only a connection failure or timeout does not. */
async function probeOrigin(origin: Origin, headers: Record<string, string>): Promise<void> {
  const url = origin.kind === 'glance' ? origin.resolve('/versions') : origin.resolve('/');
  const response = await origin.request(url, {
    method: 'GET',
    headers,
    signal: AbortSignal.timeout(ORIGIN_PROBE_TIMEOUT_MS),
  });
  discard(response.body);
}
