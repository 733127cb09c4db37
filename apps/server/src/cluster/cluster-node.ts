import type { ImageCache, Logger } from '@imgcache/core';
import { FillLeases, joinCluster, type Cluster } from '@imgcache/cluster-postgres';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Admission } from '../admission.js';
import type { Authorizer } from '../authorizer.js';
import type { ServerConfig } from '../config.js';
import type { Maintenance } from '../maintenance.js';
import type { OriginTimeouts } from '../origin-download.js';
import type { Origin } from '../origin.js';
import type { PeerSource } from '../origin-fill.js';
import { CLUSTER_DEFAULTS } from './cluster-config.js';
import { ClusterMetrics } from './cluster-metrics.js';
import { ClusterState } from './cluster-state.js';
import { registerCommandRoutes } from './command-routes.js';
import { commandRunner } from './command-runner.js';
import { registerClusterRoutes } from './cluster-routes.js';
import { CopyPolicy } from './copy-policy.js';
import { PeerFetcher } from './peer-fetch.js';
import { PeerRequests } from './peer-requests.js';

/** What the server passes in once its parts exist. */
export interface ClusterParts {
  authorizer: Authorizer;
  origin: Origin;
  admission: Admission;
  registry: Registry;
  timeouts: OriginTimeouts;
}

/**
 * This server as a node of a cluster: its membership, the check of peer requests, and
 * the source that fetches misses from their owner. Created only with `--cluster`; without
 * it the server has none of this and behaves as a single node.
 */
export class ClusterNode {
  readonly peers: PeerRequests;
  /** Holdings and purges: what the management API reaches. */
  readonly state: ClusterState;
  private readonly forgetters: ((imageId: string) => void)[] = [];

  private constructor(
    readonly cluster: Cluster,
    private readonly config: ServerConfig,
    private readonly cache: ImageCache,
    private readonly logger: Logger,
    intervalMs: number,
    /** A fill lease lasts one state interval (6 heartbeats) and is renewed every third of it. */
    private readonly leaseMs = intervalMs,
  ) {
    this.peers = new PeerRequests(config.clusterSecret!);
    this.state = new ClusterState(cluster, config.cluster!, cache, logger, intervalMs, (imageId) => {
      for (const forget of this.forgetters) forget(imageId);
    });
  }

  /**
   * Joins the cluster of `config.cluster` (migrating its schema), as `joining`.
   * @throws the database's error when it cannot be reached at startup, or a ClusterError.
   */
  static async join(config: ServerConfig, cache: ImageCache, logger: Logger): Promise<ClusterNode> {
    const heartbeat = config.clusterHeartbeat ?? CLUSTER_DEFAULTS.clusterHeartbeat;
    const deadAfter = config.clusterDeadAfter ?? CLUSTER_DEFAULTS.clusterDeadAfter;
    const cluster = await joinCluster({
      url: config.cluster!,
      dir: cache.layout.root,
      advertiseUrl: config.advertiseUrl!,
      weight: config.clusterWeight ?? CLUSTER_DEFAULTS.clusterWeight,
      timings: { heartbeatMs: heartbeat * 1000, deadAfterMs: deadAfter * 1000 },
      logger,
    });
    logger.info({ nodeId: cluster.nodeId, advertiseUrl: config.advertiseUrl }, 'joined the cluster');
    // Holdings and purges follow at a slower pace than heartbeats: they are summaries.
    return new ClusterNode(cluster, config, cache, logger, heartbeat * 6 * 1000);
  }

  /** Checks peer signatures on every request and adds the cluster routes (register before the other routes). */
  register(app: FastifyInstance): void {
    this.peers.register(app);
    registerClusterRoutes(app, this.state, this.config.adminToken);
    // This node runs its own part at once, without waiting for its notification.
    registerCommandRoutes(
      app,
      this.state.commands,
      this.config.adminToken,
      () => void this.state.commands.replay().catch(() => undefined),
    );
  }

  /** The miss source that asks the owner first (see {@link PeerFetcher}). */
  peerSource(parts: ClusterParts): PeerSource {
    // A purged image's remembered authorisations go with it, as for a local delete.
    this.forgetters.push((imageId) => parts.authorizer.forget(imageId));
    const fetcher = new PeerFetcher({
      cluster: this.cluster,
      secret: this.config.clusterSecret!,
      peers: this.peers,
      authorizer: parts.authorizer,
      origin: parts.origin,
      admission: parts.admission,
      leases: new FillLeases(this.cluster.pool, this.cluster.nodeId, this.cluster.advertiseUrl, this.leaseMs),
      leaseMs: this.leaseMs,
      isBeingCachedHere: (imageId) => this.cache.isBeingCachedHere(imageId),
      copies: new CopyPolicy(
        this.config.clusterCopy ?? CLUSTER_DEFAULTS.clusterCopy,
        this.config.clusterHotHits ?? CLUSTER_DEFAULTS.clusterHotHits,
      ),
      metrics: new ClusterMetrics(parts.registry, this.cluster.membership),
      logger: this.logger,
      public: this.config.public,
      timeouts: parts.timeouts,
    });
    return (imageId, incoming) => fetcher.start(imageId, incoming);
  }

  /**
   * Marks this node active once it listens (it owns images from its peers' next heartbeat
   * on) and starts following the shared state; prefetch jobs for this node go to
   * `queueLocally`, cluster commands to `maintenance` and the cache.
   */
  async activate(queueLocally: (imageId: string) => Promise<void>, maintenance: Maintenance): Promise<void> {
    await this.cluster.activate();
    this.state.start(
      queueLocally,
      commandRunner({ cache: this.cache, maintenance, syncHoldings: () => this.state.sync() }),
    );
  }

  /** Moves ownership away before shutdown: draining, then one heartbeat for peers to notice. */
  async drain(): Promise<void> {
    await this.cluster
      .drain()
      .catch((error: unknown) =>
        this.logger.warn({ err: (error as Error).message }, 'could not mark this node draining'),
      );
  }

  /** Leaves the cluster (its row is removed) and closes the database pool. */
  async close(): Promise<void> {
    await this.state
      .close()
      .catch((error: unknown) =>
        this.logger.warn({ err: (error as Error).message }, 'could not stop the cluster state cleanly'),
      );
    await this.cluster
      .close()
      .catch((error: unknown) =>
        this.logger.warn({ err: (error as Error).message }, 'could not leave the cluster cleanly'),
      );
  }
}
