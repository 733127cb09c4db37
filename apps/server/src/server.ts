import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImgcacheError, openConfiguredCache, type ImageCache, type Logger } from '@imgcache/core';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { Admission } from './admission.js';
import { Authorizer } from './authorizer.js';
import { ClusterNode } from './cluster/cluster-node.js';
import { loadOriginTls, originTimeouts, type ServerConfig } from './config.js';
import { LoginThrottle } from './dashboard/login-throttle.js';
import { registerDashboard } from './dashboard/routes.js';
import { originErrorAnswer } from './errors.js';
import { IMAGE_ROUTE, registerImageRoute } from './image-route.js';
import { Maintenance } from './maintenance.js';
import { registerManagementRoutes } from './management-routes.js';
import { ServerMetrics } from './metrics.js';
import { registerOperationsRoutes } from './operations-routes.js';
import { Origin } from './origin.js';
import { OriginFills } from './origin-fill.js';
import { Prefetcher } from './prefetcher.js';
import { registerProxyRoute } from './proxy-route.js';
import { loggerOptions, type LoggerOptions } from './logger-options.js';
import { registerRequestLog } from './request-log.js';
import type { RetryPolicy } from './retry-schedule.js';
import { describeSecurityModes } from './security-modes.js';
import { sendError } from './respond.js';
import { VERSION } from './version.js';

/** A running server and the parts tests and the CLI need to reach. */
export interface ImageServer {
  app: FastifyInstance;
  cache: ImageCache;
  metrics: ServerMetrics;
  maintenance: Maintenance;
  prefetcher: Prefetcher;
  /** `http://host:port` once listening. */
  url: string;
  /**
   * Stops accepting requests, lets running fills finish for up to `graceMs` then aborts
   * them, and closes the cache and its driver.
   */
  close(graceMs?: number): Promise<void>;
}

export interface CreateServerOptions {
  /**
   * A logger for the framework (pino options or `false`); default: pino at the configured
   * level and format (see {@link loggerOptions}). Given options get ISO timestamps too.
   */
  logger?: boolean | LoggerOptions;
  /**
   * Backoff of failing queued images (default: 5 attempts, waiting 1 minute after the first
   * failure and doubling) and the clock it reads (milliseconds; default `Date.now`).
   */
  prefetchRetry?: { policy?: Partial<RetryPolicy>; now?: () => number };
}

/**
 * Opens the cache, wires the routes and starts listening on `config.host:config.port`.
 * @throws the cache's errors when the directory or driver is unusable, or the listen error.
 */
export async function startServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<ImageServer> {
  const app = Fastify({
    logger:
      typeof options.logger === 'object'
        ? { ...loggerOptions(config), ...options.logger }
        : (options.logger ?? loggerOptions(config)),
    // Fastify's two lines per request are replaced by request-log.ts's one, which also sees
    // the download route's own socket writes.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // Only the proxies named by --trust-proxy may say who the client is.
    trustProxy: config.trustProxy ?? false,
    // Longer than any request line Node accepts (16 KiB of headers), so an over-long id always
    // reaches its route and is refused there as invalid, instead of falling through to the proxy.
    routerOptions: { maxParamLength: 16 * 1024 },
    forceCloseConnections: 'idle',
    // Malformed percent-escapes are refused by the router before any route runs; answer them
    // in this server's own error shape like every other error.
    frameworkErrors: (error, _request, reply) => {
      sendError(reply, 400, `Invalid request path: ${error.message.slice(0, 200)}`);
    },
  });
  const logger: Logger = app.log;
  const security = describeSecurityModes(config);
  logger.info({ security: security.modes }, security.message);
  for (const warning of security.warnings) logger.warn({ security: 'warning' }, warning);
  // Bodies are never parsed: uploads and every proxied body stream to the origin untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  // The directory remembers this server's budget, so the imgcache CLI run there enforces it too.
  const cache = await openConfiguredCache(config, {
    importer: (specifier) => import(specifier),
    logger,
    rememberBudget: 'always',
    program: `imgcache-server ${VERSION}`,
  });
  let clusterNode: ClusterNode | null = null;
  if (config.cluster) {
    try {
      clusterNode = await ClusterNode.join(config, cache, logger);
    } catch (error) {
      await cache.close();
      throw error;
    }
  }
  // The admin token is for this server alone: the origin never sees it, whatever the route.
  const origin = new Origin(config.origin, {
    withheldTokens: [config.adminToken],
    timeouts: originTimeouts(config),
    tls: loadOriginTls(config),
  });
  const originHeaders: Record<string, string> = config.originToken ? { 'x-auth-token': config.originToken } : {};
  if (config.adminToken && config.adminToken === config.originToken) {
    logger.warn(
      '--admin-token equals --origin-token: it is never sent to the origin, so prefetches and the readiness probe go without credentials',
    );
  }
  let admission!: Admission;
  const metrics = new ServerMetrics({
    cacheStats: () => cache.getStats(),
    maxSize: config.maxSize,
    workBytes: async () => ({
      incomplete: await directoryBytes(cache.layout.incompleteDir),
      invalid: await directoryBytes(cache.layout.invalidDir),
    }),
    queueLength: async () => (await cache.getQueuedImages()).length,
    inFlight: () => admission.inFlight,
  });
  admission = new Admission(cache, config.maxSize, config.minFree, (files, bytes) => {
    metrics.evictions.inc(files);
    metrics.evictedBytes.inc(bytes);
  });
  const floor = await admission.floorWarning().catch(() => null);
  if (floor !== null) logger.warn(floor);
  const authorizer = new Authorizer(origin, { ttlSeconds: config.authTtl, staleSeconds: config.authStale ?? 0 });
  const peerSource = clusterNode?.peerSource({
    authorizer,
    origin,
    admission,
    registry: metrics.registry,
    timeouts: originTimeouts(config),
  });
  const fills = new OriginFills(
    cache,
    origin,
    admission,
    authorizer,
    metrics,
    logger,
    peerSource,
    clusterNode ? (fill) => clusterNode.state.fillStarted(fill) : undefined,
  );
  const prefetcher = new Prefetcher(
    cache,
    fills,
    metrics,
    logger,
    config.prefetchConcurrency,
    originHeaders,
    options.prefetchRetry,
  );
  const maintenance = new Maintenance(cache, prefetcher, metrics, logger);

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const answer = originErrorAnswer(error);
    const status = answer?.status ?? (ImgcacheError.is(error, 'ERR_IMGCACHE_CLOSED') ? 503 : (error.statusCode ?? 500));
    request.log.warn({ err: error.message, url: request.url }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return void reply.raw.destroy();
    sendError(reply, status, answer?.message ?? error.message);
  });

  registerRequestLog(app, { metrics, imageRoute: IMAGE_ROUTE });
  clusterNode?.register(app);
  registerOperationsRoutes(app, { cache, origin, metrics, originHeaders });
  // One budget of wrong admin tokens per address, whichever door they come through.
  const tokenGuesses = new LoginThrottle();
  registerManagementRoutes(app, {
    cache,
    prefetcher,
    adminToken: config.adminToken,
    tokenGuesses,
    origin,
    originHeaders,
    cluster: clusterNode?.state,
  });
  registerDashboard(app, {
    cache,
    prefetcher,
    origin,
    originHeaders,
    cluster: clusterNode?.state,
    admission,
    maintenance,
    metrics,
    maxSize: config.maxSize,
    adminToken: config.adminToken,
    tokenGuesses,
  });
  registerImageRoute(app, {
    cache,
    origin,
    fills,
    authorizer,
    metrics,
    logger,
    public: config.public,
    trustedPeer: clusterNode ? (headers) => clusterNode.peers.isPeer(headers) : undefined,
    rangeMiss: config.rangeMiss,
    accelRedirect: config.accelRedirect ?? null,
  });
  registerProxyRoute(app, { cache, origin, authorizer, logger, internalPrefix: config.accelRedirect ?? null });

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await clusterNode?.close();
    await cache.close();
    await origin.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, dir: config.dir, driver: cache.driverName, origin: config.origin }, 'imgcache-server listening');
  maintenance.start(config.maintenanceInterval);
  await clusterNode?.activate(async (imageId) => {
    prefetcher.retryNow(imageId);
    if (await cache.queueImage(imageId)) prefetcher.kick();
  }, maintenance);

  let closing: Promise<void> | null = null;
  const close = (graceMs = 10_000) => {
    closing ??= (async () => {
      // Peers stop sending this node work before it stops taking it.
      await clusterNode?.drain();
      await maintenance.stop();
      await prefetcher.stop();
      const closed = app.close();
      // Fills still waiting for the origin's headers count too: their clients are waiting.
      await Promise.race([cache.fillsIdle(), delay(graceMs)]);
      fills.abortAll(new Error('server shutting down'));
      await cache.close();
      // Connections still streaming after the grace period are cut rather than waited for.
      const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await origin.close();
      await clusterNode?.close();
    })();
    return closing;
  };
  return { app, cache, metrics, maintenance, prefetcher, url, close };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function directoryBytes(directory: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    const info = await stat(join(directory, name)).catch(() => null);
    if (info?.isFile()) total += info.size;
  }
  return total;
}
