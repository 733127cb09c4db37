import Database from 'better-sqlite3';
import { OperationFailedError } from '../errors.js';
import type { GlanceEntry } from './glance-entry.js';

/**
 * The rows of the `cached_images` table in the sqlite driver's database, opened read-only
 * (never created, never written). Times there are float epoch seconds.
 * @throws {OperationFailedError} when the database is missing or not Glance's.
 */
export function readSqliteEntries(dbPath: string): GlanceEntry[] {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new OperationFailedError(
      `Cannot open Glance's database ${dbPath}: ${(error as Error).message}. Point at Glance's image_cache_dir (use --db if image_cache_sqlite_db is not cache.db, or --glance-driver xattr if Glance used its xattr driver).`,
      { cause: error },
    );
  }
  try {
    return db
      .prepare(
        'SELECT image_id, size, hits, checksum, last_accessed, last_modified FROM cached_images ORDER BY image_id',
      )
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
    throw new OperationFailedError(`${dbPath} is not a Glance image cache database: ${(error as Error).message}.`, {
      cause: error,
    });
  } finally {
    db.close();
  }
}
