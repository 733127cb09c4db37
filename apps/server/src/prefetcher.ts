import type { IncomingHttpHeaders } from 'node:http';
import type { ImageCache, Logger } from '@imgcache/core';
import type { OriginFills } from './origin-fill.js';
import type { ServerMetrics } from './metrics.js';
import { discard, type OriginResponse } from './origin.js';
import { DEFAULT_RETRY_POLICY, RetrySchedule, type PendingRetry, type RetryPolicy } from './retry-schedule.js';

/** Abandoned images remembered for the dashboard. */
const ABANDONED_KEPT = 20;

/** A queued image given up after its last attempt: when (ms since the epoch) and why it last failed. */
export interface AbandonedPrefetch {
  imageId: string;
  attempts: number;
  at: number;
  lastError: string;
}

type FetchResult = { result: 'cached' | 'skipped' } | { result: 'failed'; reason: string };

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
  private readonly abandoned: AbandonedPrefetch[] = [];

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

  /** Queued images that failed and wait for another attempt, and the last images given up (newest first). */
  get failures(): { retrying: PendingRetry[]; abandoned: AbandonedPrefetch[] } {
    return { retrying: this.retries.pending(), abandoned: [...this.abandoned] };
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
        const outcome = await this.fetch(imageId).catch((error: unknown): FetchResult => {
          this.logger.warn({ imageId, err: String(error) }, 'prefetch failed');
          return { result: 'failed', reason: String(error) };
        });
        this.metrics.prefetches.inc({ result: outcome.result });
        if (outcome.result === 'failed') await this.failed(imageId, outcome.reason);
        else this.retries.forget(imageId);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.concurrency) }, worker));
  }

  private async failed(imageId: string, reason: string): Promise<void> {
    const outcome = this.retries.failed(imageId, reason);
    if (!outcome.gaveUp) {
      this.logger.warn(
        { imageId, attempts: outcome.attempts, retryAt: new Date(outcome.retryAt).toISOString() },
        'prefetch failed; the image stays queued and is retried later',
      );
      return;
    }
    await this.cache.deleteQueuedImage(imageId);
    this.abandoned.unshift({ imageId, attempts: outcome.attempts, at: Date.now(), lastError: reason });
    this.abandoned.length = Math.min(this.abandoned.length, ABANDONED_KEPT);
    this.metrics.prefetchAbandoned.inc();
    this.logger.warn(
      { imageId, attempts: outcome.attempts },
      'prefetch gave up after the last attempt; the image is no longer queued',
    );
  }

  private async fetch(imageId: string): Promise<FetchResult> {
    if (await this.cache.isCached(imageId)) {
      await this.cache.deleteQueuedImage(imageId);
      return { result: 'skipped' };
    }
    const result = await this.fills.begin(imageId, this.originHeaders, 'prefetch');
    switch (result.kind) {
      case 'cached':
        await this.cache.deleteQueuedImage(imageId);
        return { result: 'skipped' };
      case 'joined':
        // Nobody reads this join: the fill runs on its own, and its outcome is the answer.
        if (await result.fill.done) return { result: 'cached' };
        throw result.fill.diskFailure ?? new Error('the fill was cancelled');
      case 'declined': {
        const { response, bypass } = result.value;
        discard(response.body);
        this.logger.warn({ imageId, status: response.statusCode, bypass }, 'prefetch not cached');
        return {
          result: 'failed',
          reason: bypass ? `not cached (${bypass})` : `the origin answered ${response.statusCode}`,
        };
      }
      case 'pass':
        discard(result.source.body as OriginResponse['body']);
        return { result: 'failed', reason: `not cached (${result.reason})` };
      case 'busy':
        return { result: 'failed', reason: 'another fill of the image was running' };
    }
    return { result: 'failed', reason: 'unknown' };
  }
}
