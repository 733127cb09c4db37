import type pg from 'pg';
import type { Listener } from './listener.js';
import type { Member } from './membership.js';
import { ownerOf, rankFor } from './placement.js';

/** The LISTEN/NOTIFY channel that wakes nodes up when prefetch jobs are queued. */
export const JOBS_CHANNEL = 'imgcache_jobs';

/**
 * Which nodes a prefetch is for: the image's owner (resolved when a node claims the job,
 * so an owner change in between is followed), every active node, the first N nodes of the
 * image's rendezvous ranking, or one node by id.
 */
export type JobTarget = 'owner' | 'all' | { replicas: number } | { node: string };

/** Jobs claimed per round trip. */
const CLAIM_BATCH = 100;

/**
 * Cluster-wide prefetch jobs in `imgcache_jobs`, claimed with `FOR UPDATE SKIP LOCKED` so
 * nodes claiming at once never block each other nor take the same job. A node claims the
 * jobs meant for it: its own `node:` jobs, `owner` jobs of images it owns, and jobs for a
 * node no longer on the ring when it owns the image (nothing is stranded by a dead node).
 */
export class PrefetchJobs {
  constructor(
    private readonly pool: pg.Pool,
    private readonly nodeId: string,
    private readonly ring: () => readonly Member[],
    listener: Listener,
    wake: () => void,
  ) {
    listener.on(JOBS_CHANNEL, wake);
  }

  /**
   * Queues a prefetch of `imageId` for `target` and wakes the nodes up.
   * @returns the number of jobs written (one per targeted node; one for `owner`).
   * @throws the driver's error when the database cannot be reached.
   */
  async enqueue(imageId: string, target: JobTarget): Promise<number> {
    const ring = this.ring();
    const targets =
      target === 'owner'
        ? ['owner']
        : target === 'all'
          ? ring.map((member) => `node:${member.nodeId}`)
          : 'replicas' in target
            ? rankFor(imageId, ring)
                .slice(0, Math.max(1, target.replicas))
                .map((member) => `node:${member.nodeId}`)
            : [`node:${target.node}`];
    if (targets.length === 0) return 0;
    await this.pool.query(
      `WITH queued AS (INSERT INTO imgcache_jobs (image_id, target) SELECT $1, unnest($2::text[]) RETURNING id)
       SELECT pg_notify('${JOBS_CHANNEL}', count(*)::text) FROM queued`,
      [imageId, targets],
    );
    return targets.length;
  }

  /**
   * Claims (deletes and returns) the jobs meant for this node, oldest first; a job another
   * node is claiming at that moment is skipped, not waited for.
   * @returns the image ids to prefetch here, each once.
   * @throws the driver's error (then nothing is claimed).
   */
  async claim(): Promise<string[]> {
    const ring = this.ring();
    const onRing = new Set(ring.map((member) => member.nodeId));
    const mine = (imageId: string, target: string) => {
      if (target === `node:${this.nodeId}`) return true;
      const owned = ownerOf(imageId, ring)?.nodeId === this.nodeId;
      return owned && (target === 'owner' || !onRing.has(target.slice('node:'.length)));
    };
    // Read without locking, then lock only this node's rows: locking rows meant for others
    // (even briefly) would make their claimers skip them.
    const { rows } = await this.pool.query<{ id: string; image_id: string; target: string }>(
      'SELECT id, image_id, target FROM imgcache_jobs ORDER BY id LIMIT $1',
      [CLAIM_BATCH * 10],
    );
    const wanted = rows.filter((row) => mine(row.image_id, row.target)).slice(0, CLAIM_BATCH);
    if (wanted.length === 0) return [];
    const claimed = await this.pool.query<{ image_id: string }>(
      `DELETE FROM imgcache_jobs WHERE id IN (SELECT id FROM imgcache_jobs WHERE id = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED) RETURNING image_id`,
      [wanted.map((row) => row.id)],
    );
    return [...new Set(claimed.rows.map((row) => row.image_id))];
  }
}
