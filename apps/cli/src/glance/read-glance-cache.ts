import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { OperationFailedError } from '../errors.js';

/** One row of Glance's `cached_images` table (times are float epoch seconds). */
export interface GlanceRow {
  imageId: string;
  size: number;
  hits: number;
  checksum: string | null;
  lastAccessed: number;
  lastModified: number;
}

/** What a Glance image cache directory holds, read without changing anything. */
export interface GlanceCache {
  rows: GlanceRow[];
  /** Regular files directly in the directory that are neither the database nor its lock or journal. */
  files: Map<string, number>;
  /** Ids with a marker in `queue/`. */
  queued: string[];
}

/**
 * Reads a Glance cache directory: `cache.db` opened read-only (never created, never
 * written), the flat image files and the `queue/` markers.
 * @throws {OperationFailedError} when the database is missing or not Glance's.
 */
export async function readGlanceCache(dir: string, dbPath: string): Promise<GlanceCache> {
  const rows = readRows(dbPath);
  const ignored = new Set([basename(dbPath), `${basename(dbPath)}-journal`, `${basename(dbPath)}-wal`, `${basename(dbPath)}-shm`, 'image_cache_db_init', 'checkme']);
  const files = new Map<string, number>();
  for (const name of await readdir(dir)) {
    if (ignored.has(name)) continue;
    const info = await stat(join(dir, name)).catch(() => null);
    if (info?.isFile()) files.set(name, info.size);
  }
  const queued = await readdir(join(dir, 'queue')).catch(() => [] as string[]);
  return { rows, files, queued: queued.sort() };
}

function readRows(dbPath: string): GlanceRow[] {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new OperationFailedError(
      `Cannot open Glance's database ${dbPath}: ${(error as Error).message}. Point at Glance's image_cache_dir (use --db if image_cache_sqlite_db is not cache.db).`,
      { cause: error },
    );
  }
  try {
    return db
      .prepare('SELECT image_id, size, hits, checksum, last_accessed, last_modified FROM cached_images ORDER BY image_id')
      .all()
      .map((raw) => {
        const row = raw as Record<string, unknown>;
        return {
          imageId: String(row.image_id),
          size: Number(row.size ?? 0),
          hits: Number(row.hits ?? 0),
          checksum: typeof row.checksum === 'string' ? row.checksum : null,
          lastAccessed: Number(row.last_accessed ?? 0),
          lastModified: Number(row.last_modified ?? 0),
        };
      });
  } catch (error) {
    throw new OperationFailedError(`${dbPath} is not a Glance image cache database: ${(error as Error).message}.`, { cause: error });
  } finally {
    db.close();
  }
}
