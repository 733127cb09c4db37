/**
 * A count with its noun in the right number: `countOf(1, 'queued image')` is
 * `1 queued image`, `countOf(3, 'queued image')` is `3 queued images`. `plural` is for
 * nouns that do not just take an `s`.
 */
export function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
