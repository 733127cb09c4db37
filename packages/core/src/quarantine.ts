import { readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, removeFile } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';
import { parseQuarantineName, quarantineName, type QuarantineCause } from './names.js';

/**
 * Moves a file the cache must never serve to `invalid/`, under the one naming scheme
 * `<key>~<cause>-<random>` (names.ts), where clean() deletes it later. This is the only
 * way files are quarantined. Names of other forms found there (older versions, other tools)
 * are still listed, with the cause `unknown`, and deleted by clean().
 * @param subject the image id, a key from a claim name, or the file's own name.
 * @returns `movedTo`, the new path relative to the cache root (`invalid/<name>`), or null
 *   when the file could not be moved and was deleted instead; null when it was already gone.
 * @throws the filesystem error when the file can be neither moved nor deleted.
 */
export async function quarantineFile(
  layout: CacheLayout,
  path: string,
  subject: string,
  cause: QuarantineCause,
): Promise<{ movedTo: string | null } | null> {
  const name = quarantineName(subject, cause);
  try {
    await rename(path, join(layout.invalidDir, name));
    return { movedTo: `invalid/${name}` };
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    // Moving failed for another reason (invalid/ unusable): deleting is as safe.
    return (await removeFile(path)) ? { movedTo: null } : null;
  }
}

/** A file waiting in `invalid/`, as listed by {@link listQuarantined}. */
export interface QuarantinedFile {
  /** Its name in `invalid/`. */
  name: string;
  /** The image id, or its shortened form (`<prefix>#<hash>`) for a long id; for names of another form, the name. */
  imageId: string;
  /** Why it was moved aside; `unknown` for names of another form (older versions). */
  cause: QuarantineCause | 'unknown';
  /** Bytes. */
  size: number;
}

/** Every file in `invalid/`, sorted by name. Files that vanish meanwhile (a concurrent clean) are left out. */
export async function listQuarantined(layout: CacheLayout): Promise<QuarantinedFile[]> {
  const found: QuarantinedFile[] = [];
  for (const name of (await readdir(layout.invalidDir)).sort()) {
    const info = await stat(join(layout.invalidDir, name)).catch(() => null);
    if (!info) continue;
    const parsed = parseQuarantineName(name);
    found.push({ name, imageId: parsed?.key ?? name, cause: parsed?.cause ?? 'unknown', size: info.size });
  }
  return found;
}
