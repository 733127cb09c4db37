/**
 * Runs `task` over `items` with at most `limit` running at once, in order of `items`.
 * Stops starting new items once `shouldStop` returns true. Tasks handle their own errors:
 * a rejecting task rejects the whole run (the other workers finish their current item).
 */
export async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !shouldStop()) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
