/** One recordHit call waiting for the next flush. */
interface PendingHit {
  imageId: string;
  accessedAt: number;
  resolve: (recorded: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Groups the hits recorded within one turn of the event loop into a single transaction.
 * A busy server records a hit per download; one SQLite commit each would cost far more
 * than the updates themselves. Each caller still learns whether its own hit landed.
 */
export class HitBatcher {
  private pending: PendingHit[] = [];
  private scheduled: Promise<void> | null = null;

  /** `apply` runs the updates inside one transaction and returns, per hit, whether it landed. */
  constructor(private readonly apply: (hits: readonly { imageId: string; accessedAt: number }[]) => boolean[]) {}

  record(imageId: string, accessedAt: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ imageId, accessedAt, resolve, reject });
      this.scheduled ??= new Promise<void>((done) => setImmediate(done)).then(() => this.flush());
    });
  }

  /** Applies everything queued so far (also called before the database closes). */
  async flush(): Promise<void> {
    this.scheduled = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      const results = this.apply(batch);
      for (const [index, hit] of batch.entries()) hit.resolve(results[index] ?? false);
    } catch (error) {
      for (const hit of batch) hit.reject(error);
    }
  }
}
