import { ImgcacheError, type ImageCache } from '@imgcache/core';
import { InvalidArgumentError, type Command } from 'commander';
import type { CliWritable } from '../cli-io.js';
import { contextFor, withCache } from '../context.js';
import { InterruptedError, OperationFailedError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import { examples } from '../help.js';
import { fetchIntoCache } from '../prefetch/fetch-image.js';
import { originUrlFor, parseOriginTemplate } from '../prefetch/origin-url.js';
import { createProgressReporter, type ProgressReporter } from '../prefetch/progress.js';
import { runLimited } from '../prefetch/run-limited.js';

const MAX_CONCURRENCY = 64;

interface PrefetchOptions {
  origin: string;
  concurrency: number;
  header?: Record<string, string>;
}

interface PrefetchSummary {
  origin: string;
  concurrency: number;
  queued: number;
  fetched: { imageId: string; size: number }[];
  skipped: { imageId: string; reason: string }[];
  failed: { imageId: string; error: string; code?: string }[];
  interrupted: boolean;
}

/** `prefetch --origin URL`: downloads the queue with bounded concurrency; exit 1 if any image failed, 130 when interrupted. */
export function registerPrefetch(program: Command): void {
  const command = program
    .command('prefetch')
    .description('download every queued image from an HTTP origin; failures stay queued (exit 1)')
    .requiredOption('--origin <url>', 'origin URL with {id} where the image id goes')
    .option('--concurrency <n>', `downloads at once, 1-${MAX_CONCURRENCY}`, parseConcurrency, 4)
    // No default value: commander would print it as "(default: {})"; an absent flag reads as no headers.
    .option(
      '-H, --header <header>',
      'extra request header "Name: value" (repeatable), e.g. an auth token',
      collectHeader,
    )
    .action(async (options: PrefetchOptions, self: Command) => {
      const template = parseOriginTemplate(options.origin);
      const context = await contextFor(self);
      const summary = await withCache(context, (cache) => prefetchAll(cache, template, options, context.io.stderr));
      const { out } = context;
      out.data(summary);
      const bytes = summary.fetched.reduce((sum, image) => sum + image.size, 0);
      out.line(
        `Prefetched ${summary.fetched.length} of ${summary.queued} queued image${summary.queued === 1 ? '' : 's'} (${formatSize(bytes)})` +
          `; ${summary.skipped.length} skipped, ${summary.failed.length} failed.`,
      );
      if (summary.skipped.length > 0) {
        out.table(
          [{ header: 'SKIPPED' }, { header: 'REASON' }],
          summary.skipped.map((item) => [item.imageId, item.reason]),
          '  ',
        );
      }
      if (summary.failed.length > 0) {
        out.table(
          [{ header: 'FAILED' }, { header: 'ERROR' }],
          summary.failed.map((item) => [item.imageId, item.error]),
          '  ',
        );
      }
      if (summary.interrupted) throw new InterruptedError('Prefetch interrupted; unfinished images stay queued.');
      if (summary.failed.length > 0) {
        throw new OperationFailedError(
          `${summary.failed.length} image${summary.failed.length === 1 ? '' : 's'} failed to prefetch and stay queued.`,
        );
      }
    });
  examples(command, [
    // Double quotes: the shell must expand $TOKEN (single quotes would send the letters).
    `imgcache prefetch --origin 'http://glance:9292/v2/images/{id}/file' -H "X-Auth-Token: $TOKEN"`,
    "imgcache prefetch --origin 'https://images.example.com/{id}.qcow2' --concurrency 8",
  ]);
}

async function prefetchAll(
  cache: ImageCache,
  template: string,
  options: PrefetchOptions,
  progressStream: CliWritable,
): Promise<PrefetchSummary> {
  const ids = await cache.getQueuedImages();
  const summary: PrefetchSummary = {
    origin: template,
    concurrency: options.concurrency,
    queued: ids.length,
    fetched: [],
    skipped: [],
    failed: [],
    interrupted: false,
  };
  if (ids.length === 0) return summary;
  const controller = new AbortController();
  // Ctrl-C aborts the running downloads (core discards their partial files) and reports.
  const onInterrupt = (): void => {
    summary.interrupted = true;
    controller.abort(new Error('interrupted'));
  };
  process.once('SIGINT', onInterrupt);
  const progress = createProgressReporter(ids.length, progressStream);
  try {
    await runLimited(
      ids,
      options.concurrency,
      (imageId) => prefetchOne(cache, imageId, template, options, controller.signal, progress, summary),
      () => summary.interrupted,
    );
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onInterrupt);
  }
  return summary;
}

async function prefetchOne(
  cache: ImageCache,
  imageId: string,
  template: string,
  options: PrefetchOptions,
  signal: AbortSignal,
  progress: ProgressReporter,
  summary: PrefetchSummary,
): Promise<void> {
  const skip = (reason: string): void => {
    summary.skipped.push({ imageId, reason });
    progress.finish(imageId, `skipped: ${reason}`);
  };
  try {
    if (await cache.isCached(imageId)) {
      // The queue's wish is already met (cached by a server meanwhile): drop the marker.
      await cache.deleteQueuedImage(imageId);
      return skip('already cached');
    }
    if (await cache.isBeingCached(imageId)) return skip('being cached by another process; stays queued');
    const outcome = await fetchIntoCache(cache, imageId, originUrlFor(template, imageId), {
      headers: options.header ?? {},
      signal,
      onStart: (size) => progress.start(imageId, size),
      onBytes: (bytes) => progress.advance(imageId, bytes),
    });
    if (!outcome.cached) return skip('cached by another writer meanwhile');
    summary.fetched.push({ imageId, size: outcome.size });
    progress.finish(imageId, `cached (${formatSize(outcome.size)})`);
  } catch (error) {
    const message = signal.aborted ? 'interrupted' : describe(error);
    summary.failed.push({ imageId, error: message, ...(ImgcacheError.is(error) ? { code: error.code } : {}) });
    progress.finish(imageId, `failed: ${message}`);
  }
}

/** A failure in words; a network error (refused, reset…, with an errno code) says the origin could not be reached. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code)
    ? `cannot reach the origin: ${error.message}`
    : error.message;
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY)
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_CONCURRENCY}.`);
  return n;
}

function collectHeader(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const colon = value.indexOf(':');
  const name = value.slice(0, colon).trim();
  if (colon <= 0 || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new InvalidArgumentError('use "Name: value".');
  return { ...previous, [name.toLowerCase()]: value.slice(colon + 1).trim() };
}
