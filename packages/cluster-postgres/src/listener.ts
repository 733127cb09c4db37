import pg from 'pg';
import type { MembershipLogger } from './membership.js';

/**
 * One LISTEN connection per node, outside any transaction (PostgreSQL delivers
 * notifications only to sessions listening at commit time, and never inside a
 * transaction's snapshot). Each channel has a wake-up callback; after every (re)connect
 * all callbacks run, since whatever was notified meanwhile is lost: the tables are the
 * truth, notifications only wake nodes up.
 */
export class Listener {
  private readonly channels = new Map<string, () => void>();
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private listening!: () => void;
  /** Resolves once the first connection listens on every channel. */
  readonly ready = new Promise<void>((resolve) => (this.listening = resolve));

  constructor(
    private readonly url: string,
    private readonly logger: MembershipLogger,
    /** Milliseconds between reconnection attempts. */
    private readonly retryMs: number,
  ) {}

  /** Calls `wake` on each notification on `channel` and after each reconnect. Register before {@link start}. */
  on(channel: string, wake: () => void): void {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new TypeError(`not a channel name: ${channel}`);
    this.channels.set(channel, wake);
  }

  start(): void {
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'imgcache-server listener' });
    const retry = () => {
      if (this.closed || this.client !== client) return;
      this.client = null;
      void client.end().catch(() => undefined);
      this.timer = setTimeout(() => void this.connect(), this.retryMs);
      this.timer.unref();
    };
    this.client = client;
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (message) => this.channels.get(message.channel)?.());
    try {
      await client.connect();
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${channel}`);
      this.listening();
      for (const wake of this.channels.values()) wake();
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'cluster listener could not connect; retrying');
      retry();
    }
  }
}
