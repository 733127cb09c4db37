// Small helpers shared by the benchmarks: timing, sizes and table printing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export async function time(fn) {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

/** Best of `runs` timings (the least disturbed by other work on the machine). */
export async function best(runs, fn) {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) fastest = Math.min(fastest, (await time(fn)).ms);
  return fastest;
}

export async function scratch(prefix) {
  const dir = await mkdtemp(join(process.env.IMGCACHE_BENCH_DIR ?? tmpdir(), `imgcache-bench-${prefix}-`));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export function fmtMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

export function fmtRate(bytes, ms) {
  return `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
}

export function printTable(title, headers, rows) {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');
  console.log(`\n${title}`);
  console.log(line(headers));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** Yields `total` bytes as `chunkSize` chunks of one reused random-looking buffer. */
export function* repeatedChunks(total, chunkSize = 4 * MiB) {
  const chunk = Buffer.alloc(chunkSize);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  for (let sent = 0; sent < total; sent += chunkSize)
    yield sent + chunkSize <= total ? chunk : chunk.subarray(0, total - sent);
}
