/** Image API versions that include the cache API this server provides. */
const CACHE_API_VERSIONS = ['v2.14', 'v2.15', 'v2.16'];

interface VersionEntry {
  id?: unknown;
  status?: unknown;
  links?: unknown;
}

/**
 * Adds the cache API versions to an origin's version document when it lacks them, so Glance
 * clients that require image API 2.14+ for their cache commands accept this server.
 * Returns null for documents that are not a version list (they are relayed unchanged).
 */
export function addCacheApiVersions(document: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { versions?: unknown }).versions))
    return null;
  const versions = (parsed as { versions: VersionEntry[] }).versions;
  const known = new Set(versions.map((entry) => entry.id));
  const v2 = versions.find((entry) => typeof entry.id === 'string' && entry.id.startsWith('v2'));
  for (const id of CACHE_API_VERSIONS) {
    if (!known.has(id)) versions.unshift({ id, status: 'SUPPORTED', links: v2?.links ?? [] });
  }
  return JSON.stringify(parsed);
}
