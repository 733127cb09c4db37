import type { ImageCache } from '@imgcache/core';
import type { CommandKind } from '@imgcache/cluster-postgres';
import type { Maintenance, StepResult } from '../maintenance.js';

/** What a node needs to run the cluster's commands. */
export interface CommandRunnerParts {
  cache: ImageCache;
  maintenance: Maintenance;
  /** Publishes the node's holdings now (after a prune or clear changed them). */
  syncHoldings: () => Promise<void>;
}

/**
 * Runs one cluster command on this node, as its operator would: `prune` and `clean` are
 * the maintenance steps (images and bytes evicted; work files removed), `clear` deletes
 * the cached images and/or queue entries (`args.target`: `cache`, `queue`, or empty for both).
 * @returns what was done, as counts and bytes.
 * @throws {Error} with the step's error when it failed.
 */
export function commandRunner(
  parts: CommandRunnerParts,
): (kind: CommandKind, args: Record<string, unknown>) => Promise<Record<string, number>> {
  const { cache, maintenance, syncHoldings } = parts;
  const detail = (result: StepResult) => {
    if (!result.ok) throw new Error(result.error);
    return result.detail;
  };
  return async (kind, args) => {
    switch (kind) {
      case 'prune': {
        const done = detail(await maintenance.prune());
        await syncHoldings();
        return done;
      }
      case 'clean':
        return detail(await maintenance.clean());
      case 'clear': {
        const target = typeof args.target === 'string' ? args.target : '';
        const images = target === 'queue' ? 0 : await cache.deleteAllCachedImages();
        const queued = target === 'cache' ? 0 : await cache.deleteAllQueuedImages();
        await syncHoldings();
        return { images, queued };
      }
    }
  };
}
