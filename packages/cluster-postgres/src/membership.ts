import type pg from 'pg';
import { ownerOf, type PlacementNode } from './placement.js';

/** A node's place in the cluster's life cycle. */
export type NodeState = 'joining' | 'active' | 'draining' | 'dead';

/** A row of the node table as one node last read it. */
export interface Member extends PlacementNode {
  /** The URL peers reach it at (`--advertise-url`). */
  url: string;
  state: NodeState;
  /** Milliseconds since its last heartbeat, by the database's clock. */
  heartbeatAgeMs: number;
}

/** Timings of {@link Membership}, in milliseconds. */
export interface MembershipTimings {
  /** Between two heartbeats (and membership reads). Default 5 000. */
  heartbeatMs: number;
  /** A node whose last heartbeat is older is dead: out of the ring, then marked so. Default 60 000 (Ironic's 60 s). */
  deadAfterMs: number;
  /** A dead node's row is deleted this long after it was last heard of. Default 3 600 000. */
  forgetAfterMs: number;
}

export const DEFAULT_TIMINGS: MembershipTimings = { heartbeatMs: 5_000, deadAfterMs: 60_000, forgetAfterMs: 3_600_000 };

/** Reports of {@link Membership} (a pino logger fits). */
export interface MembershipLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/**
 * This node's row in `imgcache_nodes` and its view of everyone else's.
 *
 * Each heartbeat upserts the node's own row (so a row swept as dead, or deleted, comes
 * back by itself, unless another live node has taken over its URL: see {@link join}), marks nodes silent for `deadAfterMs` dead, deletes rows dead for
 * `forgetAfterMs`, and rereads the table. The ring is the active nodes heard from within
 * `deadAfterMs`, by the database's clock, so nodes agree without synchronised clocks.
 * When the database cannot be reached, the last ring read is kept: hits and misses go on
 * being placed as before.
 */
export class Membership {
  private state: NodeState = 'joining';
  private view: Member[] = [];
  private ringKey = '';
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  /** False after a heartbeat failed, until one succeeds. */
  connected = false;
  /** When the database last answered a heartbeat (ms since the epoch); 0 before the first. */
  lastContact = 0;
  /** True while another live node holds this node's advertised URL (this node is kept out of the ring). */
  replaced = false;

  constructor(
    private readonly pool: pg.Pool,
    readonly nodeId: string,
    private readonly url: string,
    private readonly weight: number,
    readonly timings: MembershipTimings,
    private readonly logger: MembershipLogger,
    private readonly onRingChange: (ring: readonly Member[]) => void = () => undefined,
  ) {}

  /** This node's current state. */
  get ownState(): NodeState {
    return this.state;
  }

  /**
   * Writes this node's row as `joining` and declares dead any other node that advertised
   * the same URL (a node replaced at its address is never left in the ring).
   * @throws the driver's error when the database cannot be reached.
   */
  async join(): Promise<void> {
    await this.pool.query(
      `UPDATE imgcache_nodes SET state = 'dead' WHERE url = $1 AND node_id <> $2 AND state <> 'dead'`,
      [this.url, this.nodeId],
    );
    await this.beat();
  }

  /**
   * Sets this node's state and writes it at once (`active` once it serves, `draining`
   * before it leaves). A failed write is retried by the next heartbeat.
   */
  async setState(state: Exclude<NodeState, 'dead'>): Promise<void> {
    this.state = state;
    // A heartbeat already under way may have written the old state: write once more after it.
    await this.beating?.catch(() => undefined);
    await this.beat().catch(() => undefined);
  }

  /** Starts the heartbeat timer. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.beat().catch(() => undefined), this.timings.heartbeatMs);
    this.timer.unref();
  }

  /** Stops the heartbeat and, when `remove`, deletes this node's row (a clean leave). */
  async stop(remove: boolean): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating?.catch(() => undefined);
    if (remove)
      await this.pool.query('DELETE FROM imgcache_nodes WHERE node_id = $1', [this.nodeId]).catch(() => undefined);
  }

  /** The nodes that own images now: active and heard from recently. */
  ring(): readonly Member[] {
    return this.view.filter((member) => member.state === 'active' && member.heartbeatAgeMs < this.timings.deadAfterMs);
  }

  /** Every node row as last read, dead ones included. */
  members(): readonly Member[] {
    return this.view;
  }

  /** The owner of an image on the current ring; undefined when the ring is empty. */
  ownerOf(imageId: string): Member | undefined {
    return ownerOf(imageId, this.ring());
  }

  /**
   * One heartbeat now (concurrent calls share it).
   * @throws the driver's error when the database cannot be reached.
   */
  beat(): Promise<void> {
    this.beating ??= this.runBeat().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  private async runBeat(): Promise<void> {
    try {
      const ms = "$1 * interval '1 millisecond'";
      // A row declared dead because a newer node joined at its URL stays dead: two live
      // nodes must never share one address on the ring.
      const written = await this.pool.query(
        `INSERT INTO imgcache_nodes (node_id, url, weight, state) VALUES ($1, $2, $3, $4)
         ON CONFLICT (node_id) DO UPDATE SET url = excluded.url, weight = excluded.weight, state = excluded.state, heartbeat_at = now()
         WHERE NOT (imgcache_nodes.state = 'dead' AND EXISTS (
           SELECT 1 FROM imgcache_nodes other WHERE other.url = excluded.url AND other.node_id <> excluded.node_id AND other.state <> 'dead'))`,
        [this.nodeId, this.url, this.weight, this.state],
      );
      const replaced = written.rowCount === 0;
      if (replaced && !this.replaced) {
        this.logger.warn(
          { nodeId: this.nodeId, url: this.url },
          "another node joined at this node's --advertise-url and took its place on the ring: this node stays out of the cluster until restarted with its own address",
        );
      }
      this.replaced = replaced;
      await this.pool.query(
        `UPDATE imgcache_nodes SET state = 'dead' WHERE state <> 'dead' AND heartbeat_at < now() - ${ms}`,
        [this.timings.deadAfterMs],
      );
      // A node that died or left in the middle of a fill never commits it: its `filling` rows go (partial index, cheap).
      await this.pool.query(
        `DELETE FROM imgcache_holdings h WHERE h.state = 'filling' AND NOT EXISTS (SELECT 1 FROM imgcache_nodes n WHERE n.node_id = h.node_id AND n.state <> 'dead')`,
      );
      await this.pool.query(`DELETE FROM imgcache_nodes WHERE state = 'dead' AND heartbeat_at < now() - ${ms}`, [
        this.timings.deadAfterMs + this.timings.forgetAfterMs,
      ]);
      const { rows } = await this.pool.query<{
        node_id: string;
        url: string;
        weight: number;
        state: NodeState;
        age_ms: number;
      }>(
        `SELECT node_id, url, weight, state, (extract(epoch FROM now() - heartbeat_at) * 1000)::float8 AS age_ms FROM imgcache_nodes ORDER BY node_id`,
      );
      this.view = rows.map((row) => ({
        nodeId: row.node_id,
        url: row.url,
        weight: row.weight,
        state: row.state,
        heartbeatAgeMs: row.age_ms,
      }));
      if (!this.connected && this.lastContact > 0)
        this.logger.info({ nodeId: this.nodeId }, 'cluster database reachable again');
      this.connected = true;
      this.lastContact = Date.now();
      this.checkRing();
    } catch (error) {
      if (this.connected)
        this.logger.warn(
          { err: (error as Error).message },
          'cluster database unreachable; keeping the last known membership',
        );
      this.connected = false;
      throw error;
    }
  }

  private checkRing(): void {
    const ring = this.ring();
    const key = ring.map((member) => `${member.nodeId}@${member.url}*${member.weight}`).join(',');
    if (key === this.ringKey) return;
    this.ringKey = key;
    this.logger.info(
      { ring: ring.map((member) => ({ nodeId: member.nodeId, url: member.url, weight: member.weight })) },
      'cluster ring changed',
    );
    this.onRingChange(ring);
  }
}
