import type { IncomingHttpHeaders } from 'node:http';
import type { ImageCache, Logger } from '@imgcache/core';
import type { OriginFills } from './origin-fill.js';
import type { ServerMetrics } from './metrics.js';
import { discard, type OriginResponse } from './origin.js';
import { DEFAULT_RETRY_POLICY, RetrySchedule, type RetryPolicy } from './retry-schedule.js';

/**
 * Fetches queued images into the cache with bounded concurrency, through the same
 * single-flight fills as client downloads (a client asking for an image being prefetched
 * joins that fill). A failing image never stops the worker: it stays queued and is retried
 * with exponential backoff ({@link RetryPolicy}); after the last attempt it is dropped from
 * the queue, logged and counted in `imgcache_prefetch_abandoned_total`.
 */
export class Prefetcher {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly retries: RetrySchedule;

  constructor(
    private readonly cache: ImageCache,
    private readonly fills: OriginFills,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly concurrency: number,
    /** Credentials sent to the origin for prefetches. */
    private readonly originHeaders: IncomingHttpHeaders,
    retry: { policy?: Partial<RetryPolicy>; now?: () => number } = {},
  ) {
    this.retries = new RetrySchedule({ ...DEFAULT_RETRY_POLICY, ...retry.policy }, retry.now);
  }

  /** Clears an image's failed attempts, so it is tried at the next run (an operator queued it again). */
  retryNow(imageId: string): void {
    this.retries.forget(imageId);
  }

  /** Starts a run now, or another one right after the current run. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = null));
  }

  /** Runs once over the queue and resolves when done (used by maintenance and tests). */
  async runOnce(): Promise<void> {
    this.kick();
    await this.running;
  }

  /** Stops scheduling runs and waits for the current one. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.runQueue().catch((error: unknown) => this.logger.warn({ err: String(error) }, 'prefetch run failed'));
    } while (this.again && !this.stopped);
  }

  private async runQueue(): Promise<void> {
    const queued = await this.cache.getQueuedImages();
    this.retries.retain(queued);
    const pending = queued.filter((imageId) => this.retries.isDue(imageId));
    const worker = async () => {
      for (let imageId = pending.shift(); imageId !== undefined && !this.stopped; imageId = pending.shift()) {
        const result = await this.fetch(imageId).catch((error: unknown) => {
          this.logger.warn({ imageId, err: String(error) }, 'prefetch failed');
          return 'failed' as const;
        });
        this.metrics.prefetches.inc({ result });
        if (result === 'failed') await this.failed(imageId);
        else this.retries.forget(imageId);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.concurrency) }, worker));
  }

  private async failed(imageId: string): Promise<void> {
    const outcome = this.retries.failed(imageId);
    if (!outcome.gaveUp) {
      this.logger.warn({ imageId, attempts: outcome.attempts, retryAt: new Date(outcome.retryAt).toISOString() }, 'prefetch failed; the image stays queued and is retried later');
      return;
    }
    await this.cache.deleteQueuedImage(imageId);
    this.metrics.prefetchAbandoned.inc();
    this.logger.warn({ imageId, attempts: outcome.attempts }, 'prefetch gave up after the last attempt; the image is no longer queued');
  }

  private async fetch(imageId: string): Promise<'cached' | 'failed' | 'skipped'> {
    if (await this.cache.isCached(imageId)) {
      await this.cache.deleteQueuedImage(imageId);
      return 'skipped';
    }
    const result = await this.fills.begin(imageId, this.originHeaders, 'prefetch');
    switch (result.kind) {
      case 'cached':
        await this.cache.deleteQueuedImage(imageId);
        return 'skipped';
      case 'joined':
        // Nobody reads this join: the fill runs on its own, and its outcome is the answer.
        if (await result.fill.done) return 'cached';
        throw result.fill.diskFailure ?? new Error('the fill was cancelled');
      case 'declined':
        discard(result.value.response.body);
        this.logger.warn({ imageId, status: result.value.response.statusCode, bypass: result.value.bypass }, 'prefetch not cached');
        return 'failed';
      case 'pass':
        discard(result.source.body as OriginResponse['body']);
        return 'failed';
      case 'busy':
        return 'failed';
    }
    return 'failed';
  }
}
