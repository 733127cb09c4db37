import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GlanceEntry } from './glance-entry.js';

/**
 * The one attribute Glance's xattr driver (glance/image_cache/drivers/xattr.py) keeps on a
 * cached file: the hit count as decimal text, set to "0" as it commits the file and
 * rewritten after each read. The driver keeps no times of its own: it reads the file's
 * atime (the order its pruner evicts in) and mtime. Failed writes in `invalid/` carry
 * `user.error` instead, and are never imported.
 */
export const GLANCE_HITS_ATTRIBUTE = 'user.hits';

/**
 * The entries of a cache made by Glance's xattr driver: each of `names` (regular files
 * directly in `dir`) that carries `user.hits`. A file without it was never committed by
 * Glance and is left out. Reads attributes and `stat` only.
 * @returns null when the filesystem of `dir` has no extended attributes.
 * @throws the error of an attribute read that fails for another reason (e.g. `EACCES`).
 */
export async function readXattrEntries(dir: string, names: Iterable<string>): Promise<GlanceEntry[] | null> {
  // Loaded here, not at start-up: only import-glance needs the native addon.
  const { getAttribute } = await import('fs-xattr');
  const entries: GlanceEntry[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let raw: Buffer;
    try {
      raw = await getAttribute(path, GLANCE_HITS_ATTRIBUTE);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Linux says ENODATA for a missing attribute, BSD and macOS ENOATTR; ENOENT: Glance removed the file meanwhile.
      if (code === 'ENODATA' || code === 'ENOATTR' || code === 'ENOENT') continue;
      if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') return null;
      throw error;
    }
    const info = await stat(path);
    entries.push({
      imageId: name,
      size: info.size,
      hits: parseHits(raw),
      checksum: null,
      lastAccessed: info.atimeMs / 1000,
      lastModified: info.mtimeMs / 1000,
    });
  }
  return entries.sort((a, b) => (a.imageId < b.imageId ? -1 : a.imageId > b.imageId ? 1 : 0));
}

/** Glance writes `str(count)`; any other value (edited by hand) counts as no hits. */
function parseHits(raw: Buffer): number {
  const text = raw.toString('utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : 0;
}
