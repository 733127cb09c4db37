/** How often and how long a failing queued image is retried. */
export interface RetryPolicy {
  /** Failed attempts after which the image is dropped from the queue. */
  maxAttempts: number;
  /** Milliseconds to wait after the first failure; doubled after each further one. */
  baseDelayMs: number;
  /** Longest wait between two attempts, in milliseconds. */
  maxDelayMs: number;
}

/**
 * Five attempts, 1 minute after the first failure, then 2, 4 and 8: a queued image that
 * cannot be fetched is given up about a quarter of an hour after it was first tried (later
 * when maintenance runs less often), instead of being retried forever as Glance does.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60 * 60_000 };

/** An image waiting for its next attempt: failed attempts so far, when it is due (ms), and why it last failed. */
export interface PendingRetry {
  imageId: string;
  attempts: number;
  retryAt: number;
  lastError: string;
}

/** What {@link RetrySchedule.failed} decided. */
export type FailureOutcome = { gaveUp: false; attempts: number; retryAt: number } | { gaveUp: true; attempts: number };

/**
 * Exponential backoff per image id, kept in memory: a restart starts every image afresh,
 * which bounds the attempts per process lifetime. Times are milliseconds of the clock
 * passed in (`Date.now` in the server, a fake one in tests).
 */
export class RetrySchedule {
  private readonly failures = new Map<string, { attempts: number; retryAt: number; lastError: string }>();

  constructor(
    private readonly policy: RetryPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the image may be tried now (never failed, or its wait is over). */
  isDue(imageId: string): boolean {
    const state = this.failures.get(imageId);
    return state === undefined || state.retryAt <= this.now();
  }

  /** Records a failed attempt and why: when to retry, or that the image is given up (and forgotten). */
  failed(imageId: string, reason = 'unknown'): FailureOutcome {
    const attempts = (this.failures.get(imageId)?.attempts ?? 0) + 1;
    if (attempts >= this.policy.maxAttempts) {
      this.failures.delete(imageId);
      return { gaveUp: true, attempts };
    }
    const delay = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempts - 1));
    const retryAt = this.now() + delay;
    this.failures.set(imageId, { attempts, retryAt, lastError: reason });
    return { gaveUp: false, attempts, retryAt };
  }

  /** The images waiting for another attempt, soonest first. */
  pending(): PendingRetry[] {
    return [...this.failures].map(([imageId, state]) => ({ imageId, ...state })).sort((a, b) => a.retryAt - b.retryAt);
  }

  /** Starts the image afresh (fetched, dequeued, or queued again by an operator). */
  forget(imageId: string): void {
    this.failures.delete(imageId);
  }

  /** Forgets every image not in `queued`, so the state never outgrows the queue. */
  retain(queued: readonly string[]): void {
    const keep = new Set(queued);
    for (const imageId of this.failures.keys()) if (!keep.has(imageId)) this.failures.delete(imageId);
  }
}
