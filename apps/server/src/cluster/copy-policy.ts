import type { ClusterCopy } from './cluster-config.js';

/** Images whose request counts a node remembers; the least recently seen are forgotten first. */
const MAX_TRACKED = 10_000;

/**
 * Whether a non-owner keeps its own copy of an image it fetched from the owner:
 * `always`, `never`, or `hot`: once this node has seen `hotHits` requests for it (counted
 * in memory, since the process started; a restart starts cold). Copies of hot images
 * spread load; the rest stays on its owner, so the cluster holds about the sum of its disks.
 */
export class CopyPolicy {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly policy: ClusterCopy,
    private readonly hotHits: number,
  ) {}

  /** Counts one request for the image on this node and says whether to keep a copy. */
  keep(imageId: string): boolean {
    if (this.policy !== 'hot') return this.policy === 'always';
    const count = (this.seen.get(imageId) ?? 0) + 1;
    this.seen.delete(imageId);
    this.seen.set(imageId, count);
    if (this.seen.size > MAX_TRACKED) this.seen.delete(this.seen.keys().next().value!);
    return count >= this.hotHits;
  }
}
