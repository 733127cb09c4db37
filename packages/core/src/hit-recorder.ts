import { nextTimestamp } from './clock.js';
import type { Driver } from './driver.js';
import type { Logger } from './logger.js';

/** Default delay before recorded hits reach the driver, in ms: the most a crash can lose. */
export const HIT_FLUSH_INTERVAL_MS = 1000;

/**
 * Gathers hits in memory and hands them to the driver in one batch per interval, so a hit
 * costs no metadata write of its own. Readers of hit counts or access times (listing,
 * prune, stats) flush first, so they always see every recorded hit. A crash loses at most
 * the hits of the last interval.
 */
export class HitRecorder {
  private pending = new Map<string, { hits: number; accessedAt: number }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly driver: Driver,
    private readonly logger: Logger,
    private readonly intervalMs = HIT_FLUSH_INTERVAL_MS,
  ) {}

  /** Counts one completed read of the image now. */
  record(imageId: string): void {
    const accessedAt = nextTimestamp();
    const current = this.pending.get(imageId);
    if (current) {
      current.hits++;
      current.accessedAt = accessedAt;
    } else {
      this.pending.set(imageId, { hits: 1, accessedAt });
    }
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs).unref();
  }

  /** Forgets pending hits of an image that is gone. */
  forget(imageId: string): void {
    this.pending.delete(imageId);
  }

  /** Writes every pending hit. Failures are logged: a lost hit only ages an image early. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.flushing.then(() => (batch.size > 0 ? this.write(batch) : undefined));
    return this.flushing;
  }

  private async write(batch: Map<string, { hits: number; accessedAt: number }>): Promise<void> {
    const hits = [...batch].map(([imageId, { hits, accessedAt }]) => ({ imageId, hits, accessedAt }));
    try {
      if (this.driver.recordHits) await this.driver.recordHits(hits);
      else {
        await Promise.all(
          hits.flatMap(({ imageId, hits: count, accessedAt }) =>
            Array.from({ length: count }, () => this.driver.recordHit(imageId, accessedAt)),
          ),
        );
      }
    } catch (error) {
      this.logger.warn({ images: hits.length, err: String(error) }, 'could not record cache hits');
    }
  }
}
