import pg from 'pg';
import { ClusterError } from './errors.js';
import {
  DEFAULT_TIMINGS,
  Membership,
  type Member,
  type MembershipLogger,
  type MembershipTimings,
} from './membership.js';
import { migrate } from './migrations.js';
import { loadNodeId } from './node-identity.js';

/** How to join a cluster. */
export interface ClusterOptions {
  /** PostgreSQL connection URL (`postgres://user:password@host:5432/db`). */
  url: string;
  /** The node's cache directory: its id is stored there (see {@link loadNodeId}). */
  dir: string;
  /** The URL peers reach this node at, e.g. `http://10.0.0.5:9393`. */
  advertiseUrl: string;
  /** Relative capacity of this node (> 0, default 1). */
  weight?: number;
  /** Heartbeat and death timings in milliseconds (defaults: {@link DEFAULT_TIMINGS}). */
  timings?: Partial<MembershipTimings>;
  /** Connections this node may hold (default 4: heartbeats, queue and purge work are small). */
  maxConnections?: number;
  logger?: MembershipLogger;
  /** Called with the new ring whenever the set of active nodes (or their URLs, weights) changes. */
  onRingChange?: (ring: readonly Member[]) => void;
}

/** A node's membership of a cluster: who it is, who else is there, and who owns what. */
export interface Cluster {
  readonly nodeId: string;
  readonly advertiseUrl: string;
  readonly membership: Membership;
  /** The pool the cluster's own work uses (exposed for the server's cluster tables). */
  readonly pool: pg.Pool;
  /** The owner of an image on the current ring; undefined when the ring is empty. */
  ownerOf(imageId: string): Member | undefined;
  /** Marks this node active: it owns its share of images from the next ring read on. */
  activate(): Promise<void>;
  /**
   * Marks this node draining (out of every node's ring after their next heartbeat) and
   * waits one heartbeat period plus a margin so peers stop sending it work.
   */
  drain(): Promise<void>;
  /** Stops the heartbeat, removes this node's row when `leave` (default true), closes the pool. */
  close(options?: { leave?: boolean }): Promise<void>;
}

const SILENT: MembershipLogger = { info: () => undefined, warn: () => undefined };

/**
 * Joins a cluster: migrates the schema (under a lock), loads or creates this node's id,
 * writes its row as `joining` and starts the heartbeat. Call {@link Cluster.activate}
 * once the node serves requests.
 * @throws {ClusterError} `ERR_IMGCACHE_CLUSTER_OPTION` for an unusable weight or timing;
 * `ERR_IMGCACHE_CLUSTER_SCHEMA` for a database of a newer release;
 * `ERR_IMGCACHE_CLUSTER_NODE_ID` for an unusable stored id.
 * @throws the driver's error when the database cannot be reached at startup.
 */
export async function joinCluster(options: ClusterOptions): Promise<Cluster> {
  const timings: MembershipTimings = { ...DEFAULT_TIMINGS, ...options.timings };
  const weight = options.weight ?? 1;
  if (!(weight > 0) || !Number.isFinite(weight))
    throw new ClusterError('ERR_IMGCACHE_CLUSTER_OPTION', `the node weight must be a number above 0, not ${weight}`);
  if (!(timings.heartbeatMs > 0) || !(timings.deadAfterMs > timings.heartbeatMs * 2)) {
    throw new ClusterError(
      'ERR_IMGCACHE_CLUSTER_OPTION',
      'the heartbeat must be above 0 and the dead-after time more than two heartbeats',
    );
  }
  const logger = options.logger ?? SILENT;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 4,
    // A database that does not answer must not hold a heartbeat past the next one.
    connectionTimeoutMillis: Math.max(1_000, timings.heartbeatMs),
    query_timeout: Math.max(2_000, timings.heartbeatMs * 2),
    idleTimeoutMillis: 30_000,
    application_name: 'imgcache-server',
  });
  // An idle connection that the server drops is reported here; the next query reconnects.
  pool.on('error', (error) => logger.warn({ err: error.message }, 'cluster database connection lost'));
  try {
    await migrate(pool);
    const nodeId = await loadNodeId(options.dir);
    const membership = new Membership(
      pool,
      nodeId,
      options.advertiseUrl,
      weight,
      timings,
      logger,
      options.onRingChange,
    );
    await membership.join();
    membership.start();
    let closed: Promise<void> | null = null;
    return {
      nodeId,
      advertiseUrl: options.advertiseUrl,
      membership,
      pool,
      ownerOf: (imageId) => membership.ownerOf(imageId),
      activate: () => membership.setState('active'),
      async drain() {
        await membership.setState('draining');
        await new Promise((resolve) =>
          setTimeout(resolve, timings.heartbeatMs + Math.min(timings.heartbeatMs, 1_000)).unref(),
        );
      },
      close({ leave = true } = {}) {
        closed ??= (async () => {
          await membership.stop(leave);
          await pool.end();
        })();
        return closed;
      },
    };
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
}
