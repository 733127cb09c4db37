/**
 * The value registered on `globalThis` under `Symbol.for(name)`, created by the first caller.
 * Process-wide state (claims and locks this process holds) lives there so that two copies of
 * core loaded in one process (a bundled copy and a workspace one) agree on it.
 */
export function sharedOnGlobal<T>(name: string, create: () => T): T {
  const registry = globalThis as Record<symbol, T | undefined>;
  const key = Symbol.for(name);
  const existing = registry[key];
  if (existing !== undefined) return existing;
  const created = create();
  registry[key] = created;
  return created;
}
