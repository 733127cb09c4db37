import type pg from 'pg';

/** The node that holds a fill lease: where the image is being fetched. */
export interface LeaseHolder {
  nodeId: string;
  url: string;
}

/** What {@link FillLeases.claim} found: this node's lease, or another node's. */
export type LeaseClaim = { mine: true } | { mine: false; holder: LeaseHolder };

/**
 * Cross-node single-flight for fills that do not go through an image's owner (the owner
 * is down, or nodes disagree on who it is): one row per image in `imgcache_fill_leases`.
 * A node claims it before going to the origin; the others stream from that node. A lease
 * lasts `ttlMs` and is renewed while the fill runs; an expired lease is taken over (its
 * holder died). Plain rows, short statements: never a session advisory lock held for the
 * length of a download (those pin a connection and break under PgBouncer).
 */
export class FillLeases {
  constructor(
    private readonly pool: pg.Pool,
    private readonly nodeId: string,
    private readonly url: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Claims the lease of an image: new, expired, or already this node's.
   * @throws the driver's error when the database cannot be reached (then go to the origin).
   */
  async claim(imageId: string): Promise<LeaseClaim> {
    const { rows } = await this.pool.query(
      `INSERT INTO imgcache_fill_leases (image_id, node_id, url, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (image_id) DO UPDATE SET node_id = excluded.node_id, url = excluded.url, expires_at = excluded.expires_at
       WHERE imgcache_fill_leases.expires_at < now() OR imgcache_fill_leases.node_id = excluded.node_id
       RETURNING node_id`,
      [imageId, this.nodeId, this.url, this.ttlMs],
    );
    if (rows.length > 0) return { mine: true };
    const held = await this.pool.query<{ node_id: string; url: string }>(
      'SELECT node_id, url FROM imgcache_fill_leases WHERE image_id = $1',
      [imageId],
    );
    const holder = held.rows[0];
    // Released between the two statements: claim again.
    if (!holder) return this.claim(imageId);
    return { mine: false, holder: { nodeId: holder.node_id, url: holder.url } };
  }

  /**
   * Extends this node's lease by `ttlMs` from now.
   * @returns false when the lease is no longer this node's (it expired and was taken over).
   * @throws the driver's error.
   */
  async renew(imageId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE imgcache_fill_leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE image_id = $1 AND node_id = $2`,
      [imageId, this.nodeId, this.ttlMs],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Gives this node's lease up (its fill ended).
   * @throws the driver's error.
   */
  async release(imageId: string): Promise<void> {
    await this.pool.query('DELETE FROM imgcache_fill_leases WHERE image_id = $1 AND node_id = $2', [
      imageId,
      this.nodeId,
    ]);
  }
}
