import type { IncomingHttpHeaders } from 'node:http';
import type { ImageCache, Logger } from '@imgcache/core';
import type { FillCoordinator } from './fill-coordinator.js';
import type { ServerMetrics } from './metrics.js';
import { discard } from './origin.js';

/**
 * Fetches queued images into the cache with bounded concurrency, through the same
 * single-flight fills as client downloads (a client asking for an image being prefetched
 * joins that fill). A failing image stays queued for the next run and never stops the
 * worker.
 */
export class Prefetcher {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly cache: ImageCache,
    private readonly coordinator: FillCoordinator,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly concurrency: number,
    /** Credentials sent to the origin for prefetches. */
    private readonly originHeaders: IncomingHttpHeaders,
  ) {}

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
    const pending = await this.cache.getQueuedImages();
    const worker = async () => {
      for (let imageId = pending.shift(); imageId !== undefined && !this.stopped; imageId = pending.shift()) {
        const result = await this.fetch(imageId).catch((error: unknown) => {
          this.logger.warn({ imageId, err: String(error) }, 'prefetch failed; the image stays queued');
          return 'failed' as const;
        });
        this.metrics.prefetches.inc({ result });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.concurrency) }, worker));
  }

  private async fetch(imageId: string): Promise<'cached' | 'failed' | 'skipped'> {
    if (await this.cache.isCached(imageId)) {
      await this.cache.deleteQueuedImage(imageId);
      return 'skipped';
    }
    const result = await this.coordinator.begin(imageId, this.originHeaders, { purpose: 'prefetch' });
    switch (result.kind) {
      case 'cached':
        await this.cache.deleteQueuedImage(imageId);
        return 'skipped';
      case 'follow':
        // The follower was never started, so it holds nothing; the fill runs on its own.
        return (await result.fill.done) ? 'cached' : 'failed';
      case 'response':
        discard(result.response.body);
        this.logger.warn({ imageId, status: result.response.statusCode, bypass: result.bypass }, 'prefetch not cached; the image stays queued');
        return 'failed';
      case 'refused':
        return 'failed';
    }
  }
}
