const STEPS: readonly { limit: number; seconds: number; unit: string }[] = [
  { limit: 60, seconds: 1, unit: 's' },
  { limit: 3600, seconds: 60, unit: 'min' },
  { limit: 86_400, seconds: 3600, unit: 'h' },
  { limit: 86_400 * 60, seconds: 86_400, unit: 'day' },
  { limit: 86_400 * 730, seconds: 86_400 * 30, unit: 'month' },
  { limit: Infinity, seconds: 86_400 * 365, unit: 'year' },
];

/**
 * Describes how long ago `time` was relative to `now`: `just now`, `42 s ago`,
 * `3 min ago`, `5 h ago`, `2 days ago`, `4 months ago`, `2 years ago`; `in 3 min` for
 * times ahead of the clock (a skewed clock on a shared store).
 */
export function formatAge(time: Date, now: Date = new Date()): string {
  const deltaMs = now.getTime() - time.getTime();
  if (Number.isNaN(deltaMs)) return 'unknown';
  const seconds = Math.abs(deltaMs) / 1000;
  if (seconds < 5) return 'just now';
  const step = STEPS.find((candidate) => seconds < candidate.limit)!;
  const count = Math.floor(seconds / step.seconds);
  const plural = count !== 1 && (step.unit === 'day' || step.unit === 'month' || step.unit === 'year') ? 's' : '';
  const amount = `${count} ${step.unit}${plural}`;
  return deltaMs >= 0 ? `${amount} ago` : `in ${amount}`;
}

/** Describes a duration in seconds in its largest whole unit: `0 s`, `90 s`, `30 min`, `24 h`, `2 days`. */
export function formatDuration(seconds: number): string {
  if (seconds > 0 && seconds % 86_400 === 0) return `${seconds / 86_400} day${seconds === 86_400 ? '' : 's'}`;
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
