/**
 * Runs a replay of shared state (the purge log, cluster commands) one pass at a time: a call
 * while a pass runs asks for one more pass after it instead of starting a second, so a burst
 * of notifications costs at most two passes; a timer replays periodically as well, so a lost
 * notification is only late, never lost.
 */
export class ReplayLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  /**
   * @param pass one replay pass; its failure rejects {@link run}'s promise (the timer ignores it)
   * @param periodMs milliseconds between periodic passes
   */
  constructor(
    private readonly pass: () => Promise<void>,
    private readonly periodMs: number,
  ) {}

  /** True once {@link stop} was called: a pass should end early. */
  get closed(): boolean {
    return this.stopped;
  }

  /** Starts the periodic passes, and one at once. */
  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => void this.run().catch(() => undefined), this.periodMs);
    this.timer.unref();
    void this.run().catch(() => undefined);
  }

  /** Runs a pass now, or one more after the pass under way; resolves when no pass is left. */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Stops the periodic passes; resolves once the pass under way ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
