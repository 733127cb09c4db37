import type pg from 'pg';
import type { Listener } from './listener.js';
import type { MembershipLogger } from './membership.js';
import { ReplayLoop } from './replay-loop.js';

/** The LISTEN/NOTIFY channel that wakes nodes up when a purge is logged. */
export const PURGE_CHANNEL = 'imgcache_purge';

/** Purges read per round trip while replaying. */
const PAGE = 500;

/** Purge log entries older than this are deleted (a node away longer resyncs from its holdings). */
const KEEP_DAYS = 7;

/** Options of {@link PurgeLog}. */
export interface PurgeLogOptions {
  pool: pg.Pool;
  /** The node's LISTEN connection; purges wake it up through {@link PURGE_CHANNEL}. */
  listener: Listener;
  nodeId: string;
  /** Deletes an image from this node's cache; must be idempotent (an entry may be applied twice after a crash). */
  apply: (imageId: string) => Promise<void>;
  /** Milliseconds between replays when no notification comes (a lost one costs at most this). */
  replayMs: number;
  logger: MembershipLogger;
}

/**
 * Cluster-wide deletes. A purge is a row of `imgcache_purges` with a sequence number; each
 * node applies the rows after the last number it applied (kept in its node row, so a
 * restart resumes), when notified, when its listening connection comes back, and every
 * `replayMs`. Notifications only wake nodes up (they are lost while a node is not
 * listening); the table is the truth. Nothing holds a lock across the deletes.
 */
export class PurgeLog {
  private applied = -1;
  private readonly loop: ReplayLoop;

  constructor(private readonly options: PurgeLogOptions) {
    this.loop = new ReplayLoop(() => this.replayOnce(), options.replayMs);
    options.listener.on(PURGE_CHANNEL, () => void this.replay().catch(() => undefined));
  }

  /**
   * Logs a purge of `imageId` for every node, and wakes them up.
   * @returns its sequence number.
   * @throws the driver's error when the database cannot be reached.
   */
  async append(imageId: string): Promise<number> {
    // pg_notify in the same statement: the notification leaves only when the row is committed.
    const { rows } = await this.options.pool.query<{ seq: string }>(
      `WITH logged AS (INSERT INTO imgcache_purges (image_id, origin_node) VALUES ($1, $2) RETURNING seq)
       SELECT seq, pg_notify('${PURGE_CHANNEL}', seq::text) FROM logged`,
      [imageId, this.options.nodeId],
    );
    return Number(rows[0]!.seq);
  }

  /** Starts the periodic replay (the first runs at once; the listener wakes it up in between). */
  start(): void {
    this.loop.start();
  }

  /** The last sequence number this node applied (-1 before the first replay). */
  get lastApplied(): number {
    return this.applied;
  }

  /**
   * Applies every purge logged after the last applied one (concurrent calls are folded
   * into one more pass).
   * @throws the driver's error when the database cannot be reached.
   */
  replay(): Promise<void> {
    return this.loop.run();
  }

  /** Stops replaying (the listener is closed by its owner). */
  async close(): Promise<void> {
    await this.loop.stop();
  }

  private async replayOnce(): Promise<void> {
    const { pool, nodeId } = this.options;
    if (this.applied < 0) {
      const { rows } = await pool.query<{ purge_seq: string }>(
        'SELECT purge_seq FROM imgcache_nodes WHERE node_id = $1',
        [nodeId],
      );
      this.applied = Number(rows[0]?.purge_seq ?? 0);
    }
    for (;;) {
      const { rows } = await pool.query<{ seq: string; image_id: string; origin_node: string }>(
        'SELECT seq, image_id, origin_node FROM imgcache_purges WHERE seq > $1 ORDER BY seq LIMIT $2',
        [this.applied, PAGE],
      );
      if (rows.length === 0) return;
      for (const row of rows) {
        // The node that logged a purge applied it before logging it.
        if (row.origin_node !== nodeId) await this.options.apply(row.image_id);
        this.applied = Number(row.seq);
      }
      await pool.query('UPDATE imgcache_nodes SET purge_seq = $2 WHERE node_id = $1', [nodeId, this.applied]);
      await pool.query(`DELETE FROM imgcache_purges WHERE created_at < now() - interval '${KEEP_DAYS} days'`);
      if (rows.length < PAGE) return;
    }
  }
}
