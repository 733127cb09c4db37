import type pg from 'pg';

/** What a node holds of an image, as shared with the other nodes. */
export type HoldingState = 'filling' | 'cached' | 'evicting';

/** One image on one node. */
export interface Holding {
  imageId: string;
  state: HoldingState;
  /** Bytes, when known. */
  size: number | null;
  /** `algorithm:hex`, when known. */
  checksum: string | null;
}

/** A holder of an image, with the node's address and state. */
export interface Holder extends Holding {
  nodeId: string;
  url: string;
  nodeState: string;
  updatedAt: Date;
}

/** Per-node totals of the holdings table. */
export interface NodeHoldings {
  nodeId: string;
  /** Cached images and their bytes. */
  images: number;
  bytes: number;
  /** Fills in progress. */
  filling: number;
}

/** Rows written per statement when a whole cache is synced. */
const BATCH = 1000;

/**
 * The `imgcache_holdings` rows of one node. The node's local driver stays the truth; this
 * table is its published summary, written on state changes and by {@link Holdings.sync},
 * never per hit.
 */
export class Holdings {
  constructor(
    private readonly pool: pg.Pool,
    private readonly nodeId: string,
  ) {}

  /**
   * Makes this node's rows exactly `held`: upserts every entry and deletes rows of images
   * no longer held. Idempotent, so it also adopts an existing local cache when a node
   * joins, and repairs whatever a lost write left behind.
   * @throws the driver's error (nothing is half applied: one transaction).
   */
  async sync(held: readonly Holding[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMPORARY TABLE imgcache_sync (image_id text PRIMARY KEY) ON COMMIT DROP');
      for (let start = 0; start < held.length; start += BATCH) {
        const batch = held.slice(start, start + BATCH);
        await client.query(
          `INSERT INTO imgcache_holdings (node_id, image_id, state, size, checksum)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[])
           ON CONFLICT (node_id, image_id) DO UPDATE SET state = excluded.state, size = excluded.size, checksum = excluded.checksum, updated_at = now()
           WHERE (imgcache_holdings.state, imgcache_holdings.size, imgcache_holdings.checksum) IS DISTINCT FROM (excluded.state, excluded.size, excluded.checksum)`,
          [
            this.nodeId,
            batch.map((each) => each.imageId),
            batch.map((each) => each.state),
            batch.map((each) => each.size),
            batch.map((each) => each.checksum),
          ],
        );
        await client.query('INSERT INTO imgcache_sync SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [
          batch.map((each) => each.imageId),
        ]);
      }
      await client.query(
        'DELETE FROM imgcache_holdings h WHERE node_id = $1 AND NOT EXISTS (SELECT 1 FROM imgcache_sync s WHERE s.image_id = h.image_id)',
        [this.nodeId],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Records one image's new state on this node (null: no longer held).
   * @throws the driver's error.
   */
  async set(imageId: string, holding: Omit<Holding, 'imageId'> | null): Promise<void> {
    if (holding === null) {
      await this.pool.query('DELETE FROM imgcache_holdings WHERE node_id = $1 AND image_id = $2', [
        this.nodeId,
        imageId,
      ]);
      return;
    }
    await this.pool.query(
      `INSERT INTO imgcache_holdings (node_id, image_id, state, size, checksum) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (node_id, image_id) DO UPDATE SET state = excluded.state, size = excluded.size, checksum = excluded.checksum, updated_at = now()`,
      [this.nodeId, imageId, holding.state, holding.size, holding.checksum],
    );
  }

  /**
   * The nodes that hold an image (any state), with their address; dead nodes excluded.
   * @throws the driver's error.
   */
  async holders(imageId: string): Promise<Holder[]> {
    const { rows } = await this.pool.query<{
      node_id: string;
      url: string;
      node_state: string;
      state: HoldingState;
      size: string | null;
      checksum: string | null;
      updated_at: Date;
    }>(
      `SELECT h.node_id, n.url, n.state AS node_state, h.state, h.size, h.checksum, h.updated_at
       FROM imgcache_holdings h JOIN imgcache_nodes n USING (node_id)
       WHERE h.image_id = $1 AND n.state <> 'dead' ORDER BY n.url`,
      [imageId],
    );
    return rows.map((row) => ({
      nodeId: row.node_id,
      url: row.url,
      nodeState: row.node_state,
      imageId,
      state: row.state,
      size: row.size === null ? null : Number(row.size),
      checksum: row.checksum,
      updatedAt: row.updated_at,
    }));
  }

  /**
   * Cached images and bytes, and fills in progress, per node.
   * @throws the driver's error.
   */
  async totals(): Promise<NodeHoldings[]> {
    const { rows } = await this.pool.query<{ node_id: string; images: string; bytes: string | null; filling: string }>(
      `SELECT node_id, count(*) FILTER (WHERE state = 'cached') AS images, sum(size) FILTER (WHERE state = 'cached') AS bytes,
              count(*) FILTER (WHERE state = 'filling') AS filling
       FROM imgcache_holdings WHERE state IN ('cached', 'filling') GROUP BY node_id ORDER BY node_id`,
    );
    return rows.map((row) => ({
      nodeId: row.node_id,
      images: Number(row.images),
      bytes: Number(row.bytes ?? 0),
      filling: Number(row.filling),
    }));
  }
}
