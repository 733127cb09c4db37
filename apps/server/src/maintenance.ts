import type { ImageCache, Logger } from '@imgcache/core';
import type { ServerMetrics } from './metrics.js';
import type { Prefetcher } from './prefetcher.js';

/**
 * The in-process replacement for Glance's cron jobs: every interval it prunes to the
 * budget, cleans stalled and invalid work files and prefetches the queue. Runs never
 * overlap; a failing step is logged and the next one still runs.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;

  constructor(
    private readonly cache: ImageCache,
    private readonly prefetcher: Prefetcher,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {}

  /** Starts the timer; an interval of 0 seconds leaves maintenance to explicit {@link run} calls. */
  start(intervalSeconds: number): void {
    if (intervalSeconds <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.run(), intervalSeconds * 1000);
    this.timer.unref();
  }

  /** One maintenance pass; joins the pass already running, if any. */
  run(): Promise<void> {
    this.current ??= this.pass().finally(() => (this.current = null));
    return this.current;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.current;
  }

  private async pass(): Promise<void> {
    await this.step('prune', async () => {
      const pruned = await this.cache.prune();
      this.metrics.evictions.inc(pruned.files);
      this.metrics.evictedBytes.inc(pruned.bytes);
    });
    await this.step('clean', async () => {
      const cleaned = await this.cache.clean();
      this.metrics.cleanedFiles.inc({ kind: 'incomplete' }, cleaned.incomplete);
      this.metrics.cleanedFiles.inc({ kind: 'invalid' }, cleaned.invalid);
    });
    await this.step('prefetch', () => this.prefetcher.runOnce());
  }

  private async step(name: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.warn({ step: name, err: String(error) }, 'maintenance step failed');
    }
  }
}
