import type { ImageCache, Logger } from '@imgcache/core';
import type { ServerMetrics } from './metrics.js';
import type { Prefetcher } from './prefetcher.js';

/** The steps of a maintenance pass, in the order they run. */
export const MAINTENANCE_STEPS = ['prune', 'clean', 'prefetch'] as const;
export type MaintenanceStep = (typeof MAINTENANCE_STEPS)[number];

/**
 * How one step last ended: when it finished (milliseconds since the epoch), how long it
 * took (milliseconds), who asked (`timer`, or `operator` for a dashboard action), and what
 * it did (`prune`: images and bytes evicted; `clean`: work files removed) or why it failed.
 */
export type StepResult = {
  step: MaintenanceStep;
  finishedAt: number;
  durationMs: number;
  trigger: 'timer' | 'operator';
} & ({ ok: true; detail: Record<string, number> } | { ok: false; error: string });

/**
 * The in-process replacement for Glance's cron jobs: every interval it prunes to the
 * budget, cleans stalled and invalid work files and prefetches the queue. Runs never
 * overlap; a failing step is logged and the next one still runs. The last result of each
 * step is kept for the dashboard.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private readonly last = new Map<MaintenanceStep, StepResult>();
  private seconds = 0;

  constructor(
    private readonly cache: ImageCache,
    private readonly prefetcher: Prefetcher,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {}

  /** Starts the timer; an interval of 0 seconds leaves maintenance to explicit {@link run} calls. */
  start(intervalSeconds: number): void {
    if (intervalSeconds <= 0 || this.timer) return;
    this.seconds = intervalSeconds;
    this.timer = setInterval(() => void this.run(), intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Seconds between timed passes; 0 when the timer is off. */
  get intervalSeconds(): number {
    return this.seconds;
  }

  /** The last result of each step that has run, in step order. */
  get lastResults(): StepResult[] {
    return MAINTENANCE_STEPS.flatMap((step) => this.last.get(step) ?? []);
  }

  /** One maintenance pass; joins the pass already running, if any. */
  run(): Promise<void> {
    this.current ??= this.pass().finally(() => (this.current = null));
    return this.current;
  }

  /** Prunes to the budget now, for an operator; never throws (a failure is in the result). */
  prune(): Promise<StepResult> {
    return this.step('prune', 'operator', () => this.pruneStep());
  }

  /** Cleans stalled and invalid work files now, for an operator; never throws (a failure is in the result). */
  clean(): Promise<StepResult> {
    return this.step('clean', 'operator', () => this.cleanStep());
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.current;
  }

  private async pass(): Promise<void> {
    await this.step('prune', 'timer', () => this.pruneStep());
    await this.step('clean', 'timer', () => this.cleanStep());
    await this.step('prefetch', 'timer', async () => {
      await this.prefetcher.runOnce();
      return {};
    });
  }

  private async pruneStep(): Promise<Record<string, number>> {
    const pruned = await this.cache.prune();
    this.metrics.evictions.inc(pruned.files);
    this.metrics.evictedBytes.inc(pruned.bytes);
    return { files: pruned.files, bytes: pruned.bytes };
  }

  private async cleanStep(): Promise<Record<string, number>> {
    const cleaned = await this.cache.clean();
    this.metrics.cleanedFiles.inc({ kind: 'incomplete' }, cleaned.incomplete);
    this.metrics.cleanedFiles.inc({ kind: 'invalid' }, cleaned.invalid);
    return { incomplete: cleaned.incomplete, invalid: cleaned.invalid };
  }

  private async step(
    name: MaintenanceStep,
    trigger: StepResult['trigger'],
    work: () => Promise<Record<string, number>>,
  ): Promise<StepResult> {
    const started = Date.now();
    let result: StepResult;
    try {
      const detail = await work();
      result = { step: name, finishedAt: Date.now(), durationMs: Date.now() - started, trigger, ok: true, detail };
    } catch (error) {
      this.logger.warn({ step: name, err: String(error) }, 'maintenance step failed');
      result = {
        step: name,
        finishedAt: Date.now(),
        durationMs: Date.now() - started,
        trigger,
        ok: false,
        error: String(error),
      };
    }
    this.last.set(name, result);
    return result;
  }
}
