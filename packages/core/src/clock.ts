/**
 * Millisecond timestamps that never repeat or go back within this process, so LRU order
 * between two accesses is exact even when they fall in the same millisecond.
 */
let last = 0;

export function nextTimestamp(): number {
  const now = Date.now();
  last = now > last ? now : last + 1;
  return last;
}
