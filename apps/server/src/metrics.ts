import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How a download request was answered, as counted in `imgcache_requests_total`: its
 * `X-Cache` header in lower case (`-` as `_`), or `error` when it got none.
 */
export type RequestResult = 'hit' | 'hit_stale' | 'miss' | 'coalesced' | 'coalesced_stale' | 'bypass' | 'error';

/** Every {@link RequestResult}, each exported from the first scrape on. */
export const REQUEST_RESULTS: readonly RequestResult[] = [
  'hit',
  'hit_stale',
  'miss',
  'coalesced',
  'coalesced_stale',
  'bypass',
  'error',
];

/** Values read at scrape time from the cache and the server. */
export interface ScrapeSources {
  cacheStats: () => Promise<{ count: number; totalSize: number }>;
  maxSize: number;
  workBytes: () => Promise<{ incomplete: number; invalid: number }>;
  queueLength: () => Promise<number>;
  inFlight: () => { fills: number; bytes: number };
}

/** The server's Prometheus metrics, in a registry of their own (one per server instance). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'result'>;
  readonly servedBytes: Counter<'source'>;
  readonly originFetches: Counter<'purpose'>;
  readonly coalescedWaiters: Gauge;
  readonly bypassed: Counter<'reason'>;
  readonly fillFailures: Counter<'reason'>;
  readonly fillsCompleted: Counter;
  readonly evictions: Counter;
  readonly evictedBytes: Counter;
  readonly cleanedFiles: Counter<'kind'>;
  readonly authChecks: Counter<'result'>;
  readonly staleServes: Counter<'reason'>;
  readonly prefetches: Counter<'result'>;
  readonly prefetchAbandoned: Counter;

  constructor(sources: ScrapeSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'imgcache_requests_total',
      help: 'Image download requests by how they were answered',
      labelNames: ['result'],
      registers,
    });
    this.servedBytes = new Counter({
      name: 'imgcache_served_bytes_total',
      help: 'Image bytes sent to clients, by where they came from',
      labelNames: ['source'],
      registers,
    });
    this.originFetches = new Counter({
      name: 'imgcache_origin_fetches_total',
      help: 'Image data requests sent to the origin',
      labelNames: ['purpose'],
      registers,
    });
    this.coalescedWaiters = new Gauge({
      name: 'imgcache_coalesced_waiters',
      help: 'Clients currently streaming an image another request is fetching',
      registers,
    });
    this.bypassed = new Counter({
      name: 'imgcache_bypassed_total',
      help: 'Downloads proxied without caching, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.fillFailures = new Counter({
      name: 'imgcache_fill_failures_total',
      help: 'Cache fills that failed and cached nothing, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.fillsCompleted = new Counter({
      name: 'imgcache_fills_completed_total',
      help: 'Images fetched from the origin and committed to the cache',
      registers,
    });
    this.evictions = new Counter({ name: 'imgcache_evictions_total', help: 'Images evicted by prune', registers });
    this.evictedBytes = new Counter({
      name: 'imgcache_evicted_bytes_total',
      help: 'Bytes evicted by prune',
      registers,
    });
    this.cleanedFiles = new Counter({
      name: 'imgcache_cleaned_files_total',
      help: 'Stalled or invalid work files removed by clean',
      labelNames: ['kind'],
      registers,
    });
    this.authChecks = new Counter({
      name: 'imgcache_auth_checks_total',
      help: 'Authorisation decisions for cache hits, by outcome',
      labelNames: ['result'],
      registers,
    });
    this.staleServes = new Counter({
      name: 'imgcache_stale_auth_serves_total',
      help: 'Cached images served on an earlier authorisation while the origin could not be asked (--auth-stale), by why',
      labelNames: ['reason'],
      registers,
    });
    this.prefetches = new Counter({
      name: 'imgcache_prefetches_total',
      help: 'Prefetch attempts of queued images, by outcome',
      labelNames: ['result'],
      registers,
    });
    this.prefetchAbandoned = new Counter({
      name: 'imgcache_prefetch_abandoned_total',
      help: 'Queued images dropped from the queue after their last failed prefetch attempt',
      registers,
    });
    new Gauge({
      name: 'imgcache_cache_size_bytes',
      help: 'Bytes of committed images',
      registers,
      async collect() {
        this.set((await sources.cacheStats()).totalSize);
      },
    });
    new Gauge({
      name: 'imgcache_cache_images',
      help: 'Number of committed images',
      registers,
      async collect() {
        this.set((await sources.cacheStats()).count);
      },
    });
    new Gauge({ name: 'imgcache_cache_max_size_bytes', help: 'The cache budget (--max-size)', registers }).set(
      sources.maxSize,
    );
    new Gauge({
      name: 'imgcache_work_bytes',
      help: 'Bytes in incomplete/ (writes in progress or stalled) and invalid/ (quarantined)',
      labelNames: ['dir'],
      registers,
      async collect() {
        const bytes = await sources.workBytes();
        this.set({ dir: 'incomplete' }, bytes.incomplete);
        this.set({ dir: 'invalid' }, bytes.invalid);
      },
    });
    new Gauge({
      name: 'imgcache_prefetch_queue_length',
      help: 'Images queued for prefetching',
      registers,
      async collect() {
        this.set(await sources.queueLength());
      },
    });
    new Gauge({
      name: 'imgcache_inflight_fills',
      help: 'Cache fills in progress',
      registers,
      collect() {
        this.set(sources.inFlight().fills);
      },
    });
    new Gauge({
      name: 'imgcache_inflight_fill_bytes',
      help: 'Expected bytes of cache fills in progress (counted against the budget)',
      registers,
      collect() {
        this.set(sources.inFlight().bytes);
      },
    });
    for (const result of REQUEST_RESULTS) this.requests.inc({ result }, 0);
    for (const reason of ['unreachable', 'timeout', 'server_error']) this.staleServes.inc({ reason }, 0);
    for (const source of ['cache', 'origin']) this.servedBytes.inc({ source }, 0);
  }
}
