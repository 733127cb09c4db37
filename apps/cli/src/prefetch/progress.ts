import cliProgress from 'cli-progress';
import type { CliWritable } from '../cli-io.js';
import { formatSize } from '../format/format-size.js';

/** How prefetch reports each download while it runs. */
export interface ProgressReporter {
  start(imageId: string, size: number | undefined): void;
  advance(imageId: string, bytes: number): void;
  finish(imageId: string, message: string): void;
  stop(): void;
}

/**
 * Progress bars on a terminal (one overall bar plus one per running download, finished
 * downloads logged above them); one plain line per finished image otherwise, for logs.
 */
export function createProgressReporter(total: number, stream: CliWritable): ProgressReporter {
  // A stream that says it is a terminal is one (process.stderr): the bars move its cursor.
  return stream.isTTY ? new BarReporter(total, stream as NodeJS.WriteStream) : new LineReporter(stream);
}

class LineReporter implements ProgressReporter {
  constructor(private readonly stream: NodeJS.WritableStream) {}
  start(): void {}
  advance(): void {}
  finish(imageId: string, message: string): void {
    this.stream.write(`${imageId}: ${message}\n`);
  }
  stop(): void {}
}

interface BarPayload {
  /** The overall bar counts images; the others count bytes. */
  kind: 'images' | 'bytes';
  label: string;
  size: number | undefined;
}

class BarReporter implements ProgressReporter {
  private readonly multi: cliProgress.MultiBar;
  private readonly overall: cliProgress.SingleBar;
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; value: number }>();

  constructor(total: number, stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      { stream, hideCursor: true, clearOnComplete: false, barsize: 24, format: renderBar },
      cliProgress.Presets.shades_classic,
    );
    this.overall = this.multi.create(total, 0, { kind: 'images', label: 'images', size: total } satisfies BarPayload);
  }

  start(imageId: string, size: number | undefined): void {
    const bar = this.multi.create(size ?? 0, 0, { kind: 'bytes', label: imageId, size } satisfies BarPayload);
    this.bars.set(imageId, { bar, value: 0 });
  }

  advance(imageId: string, bytes: number): void {
    const entry = this.bars.get(imageId);
    if (!entry) return;
    entry.value += bytes;
    entry.bar.update(entry.value);
  }

  finish(imageId: string, message: string): void {
    // Logged lines are only written on the next redraw, which remove() and increment() trigger.
    this.multi.log(`${imageId}: ${message}\n`);
    const entry = this.bars.get(imageId);
    if (entry) {
      this.multi.remove(entry.bar);
      this.bars.delete(imageId);
    }
    this.overall.increment();
  }

  stop(): void {
    // stop() draws the bars one last time but drops lines still waiting to be logged.
    this.multi.update();
    this.multi.stop();
  }
}

/** `[bar] 42% img-1 1.5 MiB/3 MiB`; the overall bar counts images instead of bytes. */
function renderBar(options: cliProgress.Options, params: cliProgress.Params, payload: BarPayload): string {
  const known = payload.size !== undefined && params.total > 0;
  const progress = known ? Math.min(1, params.value / params.total) : 0;
  const bar = cliProgress.Format.BarFormat(progress, options);
  const percent = known ? `${String(Math.floor(progress * 100)).padStart(3)}%` : '   ?';
  const amount =
    payload.kind === 'images'
      ? `${params.value}/${params.total}`
      : `${formatSize(params.value)}/${payload.size === undefined ? '?' : formatSize(payload.size)}`;
  return `${bar} ${percent} ${payload.label} ${amount}`;
}
