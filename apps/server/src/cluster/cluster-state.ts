import type { Fill, ImageCache, Logger } from '@imgcache/core';
import {
  ClusterCommands,
  Holdings,
  Listener,
  PrefetchJobs,
  PurgeLog,
  type Cluster,
  type CommandKind,
} from '@imgcache/cluster-postgres';
import { clusterView, type ClusterView } from './cluster-view.js';

export type { ClusterView } from './cluster-view.js';

/** What the management API asks of the cluster. */
export interface ClusterManagement {
  /**
   * Purges an image on every other node (this node deleted it already). When the
   * database cannot be reached the purge is kept and logged once it can.
   */
  purge(imageId: string): Promise<void>;
  /**
   * Queues an image for prefetching on its owner. False when this node owns it (or the
   * database cannot be reached): queue it here.
   */
  queueForOwner(imageId: string): Promise<boolean>;
  /** The cluster view of `GET /v2/cache?scope=cluster`. */
  view(): Promise<ClusterView>;
}

/**
 * The shared state this node publishes and follows: its holdings (synced from the local
 * cache every `intervalMs`, and at once when it joins, which adopts an existing cache) and
 * the purge log (applied on notification, on reconnect and every `intervalMs`).
 */
export class ClusterState implements ClusterManagement {
  private readonly holdings: Holdings;
  private readonly purges: PurgeLog;
  private readonly listener: Listener;
  private readonly jobs: PrefetchJobs;
  /** Prune, clean and clear on every node, with a result per node. */
  readonly commands: ClusterCommands;
  private runCommand: ((kind: CommandKind, args: Record<string, unknown>) => Promise<Record<string, number>>) | null =
    null;
  private queueLocally: ((imageId: string) => Promise<void>) | null = null;
  private claiming: Promise<void> | null = null;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private resync = false;

  constructor(
    private readonly cluster: Cluster,
    databaseUrl: string,
    private readonly cache: ImageCache,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    onPurged: (imageId: string) => void,
  ) {
    this.holdings = new Holdings(cluster.pool, cluster.nodeId);
    this.listener = new Listener(databaseUrl, logger, intervalMs);
    this.jobs = new PrefetchJobs(
      cluster.pool,
      cluster.nodeId,
      () => cluster.membership.ring(),
      this.listener,
      () => void this.claimJobs(),
    );
    this.commands = new ClusterCommands({
      pool: cluster.pool,
      listener: this.listener,
      nodeId: cluster.nodeId,
      replayMs: intervalMs,
      deadAfterMs: cluster.membership.timings.deadAfterMs,
      logger,
      run: (kind, args) => {
        if (!this.runCommand) throw new Error('this node is not serving yet');
        return this.runCommand(kind, args);
      },
    });
    this.purges = new PurgeLog({
      pool: cluster.pool,
      listener: this.listener,
      nodeId: cluster.nodeId,
      replayMs: intervalMs,
      logger,
      apply: async (imageId) => {
        await this.holdings.set(imageId, { state: 'evicting', size: null, checksum: null }).catch(() => undefined);
        await cache.deleteCachedImage(imageId);
        await cache.deleteQueuedImage(imageId);
        onPurged(imageId);
        await this.holdings.set(imageId, null).catch(() => undefined);
        logger.info({ imageId }, 'purged on request of another node');
      },
    });
  }

  /**
   * Adopts the local cache into the holdings, then keeps both in step, and claims the
   * prefetch jobs meant for this node, handing each to `queueLocally`, and runs the
   * cluster commands meant for it with `runCommand`.
   */
  start(
    queueLocally: (imageId: string) => Promise<void>,
    runCommand: (kind: CommandKind, args: Record<string, unknown>) => Promise<Record<string, number>>,
  ): void {
    this.queueLocally = queueLocally;
    this.runCommand = runCommand;
    this.purges.start();
    void this.commands.start();
    this.listener.start();
    void this.sync();
    this.timer = setInterval(() => {
      void this.sync();
      void this.flushPurges();
      void this.claimJobs();
    }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * Publishes the local cache as this node's holdings (idempotent; concurrent calls share one run).
   * Failures are logged and retried at the next interval.
   */
  sync(): Promise<void> {
    if (this.syncing) {
      // A change made after the running pass read the cache needs one more pass.
      this.resync = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.resync = false;
          const cached = await this.cache.getCachedImages();
          const held = new Set(cached.map((image) => image.imageId));
          // Fills in progress stay published as such; any other row of this node goes.
          const filling = this.cache.activeFills
            .filter((fill) => !held.has(fill.imageId))
            .map((fill) => fillingHolding(fill));
          await this.holdings.sync([
            ...cached.map((image) => ({
              imageId: image.imageId,
              state: 'cached' as const,
              size: image.size,
              checksum: image.checksum ?? null,
            })),
            ...filling,
          ]);
        } while (this.resync);
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'could not publish this node’s holdings; retrying');
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  /**
   * Publishes a fill this node started as `filling`, then as `cached` once committed, or
   * removes it when the fill fails or is cancelled. A node that crashes meanwhile leaves
   * the row to the dead-node cleanup (or to its own sync when it restarts).
   */
  fillStarted(fill: Fill): void {
    const { imageId } = fill;
    const warn = (error: unknown) =>
      this.logger.warn({ imageId, err: (error as Error).message }, 'could not publish a fill; the next sync will');
    const filling = this.holdings.set(imageId, fillingHolding(fill)).catch(warn);
    void fill.done
      .then(
        (committed) => committed,
        () => null,
      )
      .then(async (committed) => {
        // In order: the final state must not be overwritten by a late `filling`.
        await filling;
        await this.holdings
          .set(imageId, committed ? { state: 'cached', size: committed.size, checksum: committed.checksum } : null)
          .catch(warn);
      });
  }

  async purge(imageId: string): Promise<void> {
    this.pending.add(imageId);
    await this.holdings.set(imageId, null).catch(() => undefined);
    await this.flushPurges();
  }

  async queueForOwner(imageId: string): Promise<boolean> {
    const owner = this.cluster.ownerOf(imageId);
    if (!owner || owner.nodeId === this.cluster.nodeId) return false;
    try {
      await this.jobs.enqueue(imageId, 'owner');
      return true;
    } catch (error) {
      this.logger.warn(
        { imageId, err: (error as Error).message },
        'could not queue the image for its owner; queueing it here',
      );
      return false;
    }
  }

  /** Claims this node's prefetch jobs and queues them here (one claim at a time). */
  private claimJobs(): Promise<void> {
    this.claiming ??= (async () => {
      try {
        for (;;) {
          const claimed = await this.jobs.claim();
          if (claimed.length === 0) break;
          for (const imageId of claimed) await this.queueLocally?.(imageId);
        }
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'could not claim prefetch jobs; retrying');
      } finally {
        this.claiming = null;
      }
    })();
    return this.claiming;
  }

  /** Nodes holding an image, for `GET /v2/cache/nodes/{id}`. */
  holders(imageId: string) {
    return this.holdings.holders(imageId);
  }

  view(): Promise<ClusterView> {
    return clusterView(this.cluster, this.holdings);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.syncing;
    await this.flushPurges();
    await this.claiming;
    await this.purges.close();
    await this.commands.close();
    await this.listener.close();
  }

  /** Logs the purges not logged yet (the database was down); each is kept until it is. */
  private async flushPurges(): Promise<void> {
    for (const imageId of [...this.pending]) {
      try {
        await this.purges.append(imageId);
        this.pending.delete(imageId);
      } catch (error) {
        this.logger.warn({ imageId, err: (error as Error).message }, 'could not log a cluster purge; retrying');
        return;
      }
    }
  }
}

/** A fill in progress as a holding: its size once announced, no checksum yet. */
function fillingHolding(fill: Fill) {
  return { imageId: fill.imageId, state: 'filling' as const, size: fill.size ?? null, checksum: null };
}
