import { access, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { OperationFailedError } from '../errors.js';
import type { GlanceDriver, GlanceEntry } from './glance-entry.js';
import { readSqliteEntries } from './sqlite-entries.js';
import { readXattrEntries } from './xattr-entries.js';

/** What a Glance image cache directory holds, read without changing anything. */
export interface GlanceCache {
  driver: GlanceDriver;
  /** The sqlite driver's database; null for the xattr driver. */
  database: string | null;
  /** The images Glance committed, ordered by id. */
  entries: GlanceEntry[];
  /** Regular files directly in the directory (name → bytes), apart from the drivers' own files. */
  files: Map<string, number>;
  /** Ids with a marker in `queue/`, oldest first (by mtime, then id, as Glance orders them). */
  queued: string[];
}

export interface ReadGlanceCacheOptions {
  /** Which driver made the directory; `auto` tells from what is there (see {@link readGlanceCache}). */
  driver: GlanceDriver | 'auto';
  /** The sqlite driver's database (default `<dir>/cache.db`); naming one means sqlite. */
  database?: string;
}

/**
 * Reads a Glance cache directory (`image_cache_dir`): the sqlite driver's `cache.db`
 * (read-only) or the xattr driver's `user.hits` attributes, the flat image files and the
 * `queue/` markers. `auto` picks sqlite when a database is named or `cache.db` exists (the
 * sqlite driver creates it when Glance starts), xattr when a file carries `user.hits`,
 * and otherwise sqlite, whose error then says how to name either.
 * @throws {OperationFailedError} when the database is missing or not Glance's, or when
 * xattr is asked for on a filesystem without extended attributes.
 */
export async function readGlanceCache(dir: string, options: ReadGlanceCacheOptions): Promise<GlanceCache> {
  const database = resolve(options.database ?? join(dir, 'cache.db'));
  const files = await regularFiles(dir, ignoredNames(database));
  const queued = await queuedIds(join(dir, 'queue'));
  const driver =
    options.driver === 'auto'
      ? await detectDriver(dir, files, database, options.database !== undefined)
      : options.driver;
  if (driver === 'sqlite') return { driver, database, entries: readSqliteEntries(database), files, queued };
  const entries = await readXattrEntries(dir, files.keys());
  if (entries === null) {
    throw new OperationFailedError(
      `The filesystem of ${dir} has no extended attributes, so Glance's xattr driver cannot have made it; try --glance-driver sqlite.`,
    );
  }
  return { driver, database: null, entries, files, queued };
}

async function detectDriver(
  dir: string,
  files: Map<string, number>,
  database: string,
  databaseNamed: boolean,
): Promise<GlanceDriver> {
  if (databaseNamed || (await exists(database))) return 'sqlite';
  const xattrEntries = await readXattrEntries(dir, files.keys());
  return xattrEntries !== null && xattrEntries.length > 0 ? 'xattr' : 'sqlite';
}

/** Files of the drivers themselves: the database and SQLite's files beside it, the sqlite driver's lock file, the xattr driver's probe file. */
function ignoredNames(database: string): Set<string> {
  const name = basename(database);
  return new Set([name, `${name}-journal`, `${name}-wal`, `${name}-shm`, 'image_cache_db_init', 'checkme']);
}

async function regularFiles(dir: string, ignored: Set<string>): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const name of (await readdir(dir)).sort()) {
    if (ignored.has(name)) continue;
    const info = await stat(join(dir, name)).catch(() => null);
    if (info?.isFile()) files.set(name, info.size);
  }
  return files;
}

async function queuedIds(queueDir: string): Promise<string[]> {
  const names = await readdir(queueDir).catch(() => [] as string[]);
  const markers: { id: string; mtime: number }[] = [];
  for (const id of names) {
    const info = await stat(join(queueDir, id)).catch(() => null);
    if (info?.isFile()) markers.push({ id, mtime: info.mtimeMs });
  }
  return markers
    .sort((a, b) => a.mtime - b.mtime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((marker) => marker.id);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
