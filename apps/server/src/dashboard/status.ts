import { hostname } from 'node:os';
import type { CachedImage, ImageCache } from '@imgcache/core';
import type { Admission } from '../admission.js';
import type { ClusterManagement, ClusterView } from '../cluster/cluster-state.js';
import type { Maintenance, StepResult } from '../maintenance.js';
import type { ServerMetrics } from '../metrics.js';
import type { AbandonedPrefetch, Prefetcher } from '../prefetcher.js';
import type { PendingRetry } from '../retry-schedule.js';
import type { TrafficHistory, TrafficSample, TrafficTotals } from './traffic-history.js';

/** Images listed as largest and as hottest. */
const TOP_IMAGES = 5;

/** What the status document is built from. */
export interface StatusSources {
  cache: ImageCache;
  admission: Admission;
  prefetcher: Prefetcher;
  maintenance: Maintenance;
  traffic: TrafficHistory;
  /** The budget, in bytes (`--max-size`). */
  maxSize: number;
  /** With `--cluster`: the nodes and their health. */
  cluster?: ClusterManagement | undefined;
}

/** A listed image: bytes, hits, last access (ms since the epoch). */
export interface ImageFigure {
  imageId: string;
  size: number;
  hits: number;
  lastAccessed: number;
}

/**
 * The dashboard's JSON document (`GET /dashboard/api/status`). Sizes in bytes, times in
 * milliseconds since the epoch, durations in seconds; counts as in `/metrics`.
 */
export interface DashboardStatus {
  node: { hostname: string; driver: string; startedAt: number };
  usage: {
    cacheBytes: number;
    images: number;
    maxSize: number;
    /** Fills in progress and the bytes they reserved against the budget. */
    inFlightFills: number;
    inFlightBytes: number;
    /** The cache filesystem, or null when it cannot be read (the error is in `diskError`). */
    disk: { totalBytes: number; availableBytes: number; floorBytes: number } | null;
    diskError?: string;
  };
  traffic: { intervalSeconds: number; samples: TrafficSample[]; totals: TrafficTotals };
  fills: { imageId: string; receivedBytes: number; size: number | null }[];
  largest: ImageFigure[];
  hottest: ImageFigure[];
  queue: { queued: string[]; retrying: PendingRetry[]; abandoned: AbandonedPrefetch[] };
  maintenance: { intervalSeconds: number; last: StepResult[] };
  /** With `--cluster`: the view of `GET /v2/cache?scope=cluster`, or why it could not be read; null on a single node. */
  cluster: ClusterView | { error: string } | null;
}

/** Totals of the request and byte counters, read from the metrics registry. */
export async function readTrafficTotals(metrics: ServerMetrics): Promise<TrafficTotals> {
  const [requests, served] = await Promise.all([metrics.requests.get(), metrics.servedBytes.get()]);
  const by = (
    values: { value: number; labels: Record<string, string | number | undefined> }[],
    label: string,
    value: string,
  ) => values.filter((entry) => entry.labels[label] === value).reduce((sum, entry) => sum + entry.value, 0);
  return {
    hit: by(requests.values, 'result', 'hit'),
    hitStale: by(requests.values, 'result', 'hit_stale'),
    miss: by(requests.values, 'result', 'miss'),
    coalesced: by(requests.values, 'result', 'coalesced'),
    coalescedStale: by(requests.values, 'result', 'coalesced_stale'),
    bypass: by(requests.values, 'result', 'bypass'),
    error: by(requests.values, 'result', 'error'),
    cacheBytes: by(served.values, 'source', 'cache'),
    originBytes: by(served.values, 'source', 'origin'),
  };
}

/**
 * Gathers every figure the dashboard shows, in one document.
 * @throws the cache's errors when its metadata cannot be read (a closed cache, a broken driver).
 */
export async function buildStatus(
  sources: StatusSources,
  context: { startedAt: number; intervalSeconds: number },
): Promise<DashboardStatus> {
  const { cache, admission, prefetcher, maintenance } = sources;
  const [stats, images, queued, traffic, disk] = await Promise.all([
    cache.getStats(),
    cache.getCachedImages(),
    cache.getQueuedImages(),
    sources.traffic.snapshot(),
    admission.disk().then(
      (value) => ({ value }),
      (error: unknown) => ({ error: String(error) }),
    ),
  ]);
  const cluster = sources.cluster
    ? await sources.cluster.view().catch((error: unknown) => ({ error: String(error) }))
    : null;
  const figure = (image: CachedImage): ImageFigure => ({
    imageId: image.imageId,
    size: image.size,
    hits: image.hits,
    lastAccessed: image.lastAccessed.getTime(),
  });
  const top = (key: 'size' | 'hits') =>
    [...images]
      .sort((a, b) => b[key] - a[key] || a.imageId.localeCompare(b.imageId))
      .slice(0, TOP_IMAGES)
      .map(figure);
  const failures = prefetcher.failures;
  return {
    node: { hostname: hostname(), driver: cache.driverName, startedAt: context.startedAt },
    usage: {
      cacheBytes: stats.totalSize,
      images: stats.count,
      maxSize: sources.maxSize,
      inFlightFills: admission.inFlight.fills,
      inFlightBytes: admission.inFlight.bytes,
      disk: 'value' in disk ? disk.value : null,
      ...('error' in disk ? { diskError: disk.error } : {}),
    },
    traffic: { intervalSeconds: context.intervalSeconds, ...traffic },
    fills: cache.activeFills.map((fill) => ({
      imageId: fill.imageId,
      receivedBytes: fill.bytesReceived,
      size: fill.size ?? null,
    })),
    largest: top('size'),
    hottest: top('hits'),
    queue: { queued, retrying: failures.retrying, abandoned: failures.abandoned },
    maintenance: { intervalSeconds: maintenance.intervalSeconds, last: maintenance.lastResults },
    cluster,
  };
}
