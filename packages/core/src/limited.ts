/**
 * Runs `task` over `items` with at most `limit` tasks in flight, started in order. Used
 * where one call per item at once would exhaust descriptors or the libuv thread pool
 * (unlinking thousands of files, reading thousands of attributes).
 * @param limit tasks in flight at once, a whole number of 1 or more.
 * @throws {RangeError} for a limit below 1.
 * @throws the first error a task threw, once every item has been tried: a failure never
 *   leaves the rest untried (so cleanups such as releasing locks always run to the end).
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a whole number, 1 or more; got ${limit}`);
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}

/**
 * Like {@link forEachLimited}, collecting each task's result.
 * @returns the results in the order of `items`.
 * @throws as {@link forEachLimited}.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const indexes = items.map((_, index) => index);
  await forEachLimited(indexes, limit, async (index) => {
    results[index] = await task(items[index]!);
  });
  return results;
}
