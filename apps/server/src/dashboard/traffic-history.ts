/** Cumulative counts since the server started, as `/metrics` exposes them. */
export interface TrafficTotals {
  /** `imgcache_requests_total` by result. */
  hit: number;
  /** Hits served on an earlier authorisation while the origin could not be asked (`hit_stale`). */
  hitStale: number;
  miss: number;
  coalesced: number;
  /** Joined downloads served on an earlier authorisation (`coalesced_stale`). */
  coalescedStale: number;
  bypass: number;
  error: number;
  /** `imgcache_served_bytes_total{source="cache"}` and `{source="origin"}`. */
  cacheBytes: number;
  originBytes: number;
}

/** What happened during one interval: its start (ms since the epoch), its length in seconds, and the counts in it. */
export interface TrafficSample extends TrafficTotals {
  start: number;
  seconds: number;
}

export const TRAFFIC_KEYS = [
  'hit',
  'hitStale',
  'miss',
  'coalesced',
  'coalescedStale',
  'bypass',
  'error',
  'cacheBytes',
  'originBytes',
] as const satisfies readonly (keyof TrafficTotals)[];

/**
 * A small in-process ring of per-interval traffic samples for the dashboard's chart: each
 * {@link record} closes the interval since the previous one. Prometheus keeps the long
 * history; this covers the last minutes on a server nobody scrapes.
 */
export class TrafficHistory {
  private readonly samples: TrafficSample[] = [];
  private mark: { at: number; totals: TrafficTotals };

  /**
   * @param read the current totals.
   * @param capacity samples kept (default 60: ten minutes of 10-second samples).
   * @param now the clock, in milliseconds.
   */
  constructor(
    private readonly read: () => Promise<TrafficTotals>,
    initial: TrafficTotals,
    private readonly capacity = 60,
    private readonly now: () => number = Date.now,
  ) {
    this.mark = { at: now(), totals: initial };
  }

  /** Closes the current interval and starts the next. */
  async record(): Promise<void> {
    const totals = await this.read();
    const at = this.now();
    this.samples.push(difference(this.mark, at, totals));
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
    this.mark = { at, totals };
  }

  /** The closed samples, oldest first, then the interval in progress; and the totals now. */
  async snapshot(): Promise<{ samples: TrafficSample[]; totals: TrafficTotals }> {
    const totals = await this.read();
    return { samples: [...this.samples, difference(this.mark, this.now(), totals)], totals };
  }
}

function difference(mark: { at: number; totals: TrafficTotals }, at: number, totals: TrafficTotals): TrafficSample {
  const sample = { start: mark.at, seconds: Math.max(0, (at - mark.at) / 1000) } as TrafficSample;
  // A counter never goes down; clamping keeps a registry reset from drawing negative bars.
  for (const key of TRAFFIC_KEYS) sample[key] = Math.max(0, totals[key] - mark.totals[key]);
  return sample;
}
