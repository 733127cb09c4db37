// Number formats of the server benchmark. MB is decimal (10^6 bytes), as in the CLI and server.
export const MB = 1e6;
export const MiB = 1024 * 1024;

/** `1234 MB/s` from bytes per second. */
export const mbps = (bytesPerSecond) =>
  bytesPerSecond === null || bytesPerSecond === undefined ? '–' : `${(bytesPerSecond / MB).toFixed(0)} MB/s`;

/** `812 µs` / `12.3 ms` from microseconds. */
export function micros(us) {
  if (us === null || us === undefined || Number.isNaN(us)) return 'n/a';
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`;
}

/** `2.41 s` / `412 ms` from milliseconds. */
export const millis = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

/** `123 MB` from bytes. */
export const megabytes = (bytes) => (bytes === null || bytes === undefined ? 'n/a' : `${(bytes / MB).toFixed(0)} MB`);

/** The median of a non-empty list of numbers (mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** `a / b`, or null when either is missing or b is 0. */
export const ratio = (a, b) => (a === null || a === undefined || !b ? null : a / b);
