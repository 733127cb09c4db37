const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/**
 * Formats a byte count in binary units for people: `0 B`, `512 B`, `1.5 GiB`, `120 MiB`.
 * One decimal below 100 of a unit (dropped when it is `.0`), none above.
 * @throws {RangeError} for a negative or non-finite count.
 */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`not a byte count: ${bytes}`);
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  let shown = value < 100 ? Math.round(value * 10) / 10 : Math.round(value);
  // 1023.96 KiB rounds to 1024: show it as the next unit instead.
  if (shown >= 1024 && unit < UNITS.length - 1) {
    unit++;
    shown = 1;
  }
  const text = Number.isInteger(shown) ? String(shown) : shown.toFixed(1);
  return `${text} ${UNITS[unit]}`;
}
