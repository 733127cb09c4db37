import Database from 'better-sqlite3';
import { basename, isAbsolute, join } from 'node:path';
import {
  DRIVER_CONTRACT_VERSION,
  DriverStoreError,
  InvalidOptionError,
  errnoCode,
  isCoreDirectoryName,
  type CacheEntry,
  type Driver,
  type DriverCapabilities,
  type DriverFactory,
  type DriverStats,
  type HitBatch,
  type LruEntry,
  type NewCacheEntry,
} from '@imgcache/core';
import { HitBatcher } from './hit-batcher.js';
import { SCHEMA, SCHEMA_VERSION } from './schema.js';

/** Options of {@link createSqliteDriver} (`ImageCache.open({ driverOptions })` when loaded by name). */
export interface SqliteDriverOptions {
  /** Database file, a relative path inside the cache root (not in a directory core owns). Default `cache.sqlite`. */
  filename?: string;
  /** Milliseconds to wait for another process's lock before failing. Default 15000. */
  busyTimeout?: number;
}

interface Row {
  image_id: string;
  size: number;
  checksum: string;
  hits: number;
  last_accessed: number;
  last_modified: number;
}

const DEFAULT_FILENAME = 'cache.sqlite';
const LRU_PAGE = 2000;
const DEFAULT_BUSY_TIMEOUT = 15_000;
const MAX_BUSY_TIMEOUT = 2 ** 31 - 1;

/**
 * Metadata in one SQLite database in WAL mode, so readers never block the writer and a CLI
 * can work beside a running server. Writes wait on the busy timeout instead of failing.
 */
export class SqliteDriver implements Driver {
  readonly name = 'sqlite';
  readonly contractVersion = DRIVER_CONTRACT_VERSION;
  /** WAL and a busy timeout: several processes share one database; every hit is one atomic UPDATE. */
  readonly capabilities: DriverCapabilities = { multiProcess: true, multiProcessHits: true };

  private readonly statements;
  private readonly hits: HitBatcher;

  constructor(
    private readonly db: Database.Database,
    private readonly nodeId: string,
  ) {
    const columns = 'image_id, size, checksum, hits, last_accessed, last_modified';
    this.statements = {
      get: db.prepare<[string, string], Row>(`SELECT ${columns} FROM entries WHERE node_id = ? AND image_id = ?`),
      list: db.prepare<[string], Row>(`SELECT ${columns} FROM entries WHERE node_id = ? ORDER BY image_id`),
      stats: db.prepare<[string], { count: number; total_size: number; total_hits: number }>(
        'SELECT count, total_size, total_hits FROM totals WHERE node_id = ?',
      ),
      upsert: db.prepare(
        `INSERT INTO entries (node_id, image_id, size, checksum, hits, last_accessed, last_modified)
         VALUES (@nodeId, @imageId, @size, @checksum, 0, @lastModified, @lastModified)
         ON CONFLICT (node_id, image_id) DO UPDATE SET size = excluded.size, checksum = excluded.checksum,
           hits = 0, last_accessed = excluded.last_accessed, last_modified = excluded.last_modified`,
      ),
      hit: db.prepare(
        'UPDATE entries SET hits = hits + 1, last_accessed = max(last_accessed, ?) WHERE node_id = ? AND image_id = ?',
      ),
      hits: db.prepare(
        'UPDATE entries SET hits = hits + ?, last_accessed = max(last_accessed, ?) WHERE node_id = ? AND image_id = ?',
      ),
      remove: db.prepare('DELETE FROM entries WHERE node_id = ? AND image_id = ?'),
      removeAll: db.prepare('DELETE FROM entries WHERE node_id = ?'),
      lruFirst: db.prepare<[string, number], LruRow>(
        `SELECT image_id, size, last_accessed FROM entries WHERE node_id = ?
         ORDER BY last_accessed, image_id LIMIT ?`,
      ),
      // A row-value comparison lets SQLite seek the index to the page start.
      lruAfter: db.prepare<[string, number, string, number], LruRow>(
        `SELECT image_id, size, last_accessed FROM entries
         WHERE node_id = ? AND (last_accessed, image_id) > (?, ?)
         ORDER BY last_accessed, image_id LIMIT ?`,
      ),
    };
    const recordMany = db.transaction((batch: readonly { imageId: string; accessedAt: number }[]) =>
      batch.map(({ imageId, accessedAt }) => this.statements.hit.run(accessedAt, this.nodeId, imageId).changes > 0),
    );
    this.hits = new HitBatcher((batch) => recordMany.immediate(batch));
    this.recordBatch = db.transaction((batch: readonly HitBatch[]) => {
      for (const { imageId, hits, accessedAt } of batch)
        this.statements.hits.run(hits, accessedAt, this.nodeId, imageId);
    });
  }

  private readonly recordBatch: Database.Transaction<(batch: readonly HitBatch[]) => void>;

  async get(imageId: string): Promise<CacheEntry | null> {
    const row = this.statements.get.get(this.nodeId, imageId);
    return row ? toEntry(row) : null;
  }

  async list(): Promise<CacheEntry[]> {
    return this.statements.list.all(this.nodeId).map(toEntry);
  }

  async stats(): Promise<DriverStats> {
    const row = this.statements.stats.get(this.nodeId);
    return { count: row?.count ?? 0, totalSize: row?.total_size ?? 0, totalHits: row?.total_hits ?? 0 };
  }

  async commit(entry: NewCacheEntry): Promise<void> {
    this.statements.upsert.run({ nodeId: this.nodeId, ...entry });
  }

  async recordHit(imageId: string, accessedAt: number): Promise<boolean> {
    return this.hits.record(imageId, accessedAt);
  }

  async recordHits(batch: readonly HitBatch[]): Promise<void> {
    this.recordBatch.immediate(batch);
  }

  async remove(imageIds: readonly string[]): Promise<number> {
    // IMMEDIATE takes the write lock up front, so the busy timeout applies instead of a
    // snapshot upgrade failing with SQLITE_BUSY.
    const removeMany = this.db.transaction((ids: readonly string[]) => {
      let removed = 0;
      for (const imageId of ids) removed += this.statements.remove.run(this.nodeId, imageId).changes;
      return removed;
    });
    return removeMany.immediate(imageIds);
  }

  async removeAll(): Promise<number> {
    return this.statements.removeAll.run(this.nodeId).changes;
  }

  async *leastRecentlyUsed(): AsyncIterable<LruEntry> {
    // Keyset pages: one ordered pass over the index that tolerates removals between pages,
    // and never holds a read cursor open while the caller deletes.
    let page = this.statements.lruFirst.all(this.nodeId, LRU_PAGE);
    while (page.length > 0) {
      for (const row of page) yield { imageId: row.image_id, size: row.size, lastAccessed: row.last_accessed };
      if (page.length < LRU_PAGE) return;
      const last = page[page.length - 1]!;
      page = this.statements.lruAfter.all(this.nodeId, last.last_accessed, last.image_id, LRU_PAGE);
    }
  }

  async close(): Promise<void> {
    await this.hits.flush();
    if (this.db.open) this.db.close();
  }
}

interface LruRow {
  image_id: string;
  size: number;
  last_accessed: number;
}

function toEntry(row: Row): CacheEntry {
  return {
    imageId: row.image_id,
    size: row.size,
    checksum: row.checksum,
    hits: row.hits,
    lastAccessed: row.last_accessed,
    lastModified: row.last_modified,
  };
}

/**
 * Makes the factory of the SQLite driver. Checks the options at once, so a bad option fails
 * before any file is touched. The factory opens (creating or migrating) the database of a
 * cache directory, retrying only while another process holds the lock, never past
 * `busyTimeout`.
 * @throws {InvalidOptionError} for a `filename` that is not a file name in the cache root, or
 *   a `busyTimeout` that is not 0 to 2^31-1 milliseconds.
 * The factory throws {@link DriverStoreError} (never `DriverConfigError`, so core never
 * falls back to a fresh database beside it) when the database is corrupt, unreadable, from a
 * newer schema, or stays locked past `busyTimeout`; the message says how to recover.
 */
export function createSqliteDriver(options: SqliteDriverOptions = {}): DriverFactory<SqliteDriver> {
  const fileName = options.filename ?? DEFAULT_FILENAME;
  if (
    typeof fileName !== 'string' ||
    fileName.length === 0 ||
    isAbsolute(fileName) ||
    fileName.split(/[\\/]/).some((part) => part === '..' || isCoreDirectoryName(part))
  ) {
    throw new InvalidOptionError(
      'driverOptions.filename',
      `${JSON.stringify(fileName)} must be a file name inside the cache root, outside images, incomplete, invalid and queue`,
    );
  }
  const busyTimeout = options.busyTimeout ?? DEFAULT_BUSY_TIMEOUT;
  // The open below retries until this deadline, so it must be a finite wait; SQLite's own
  // limit is a signed 32-bit millisecond count.
  if (!Number.isSafeInteger(busyTimeout) || busyTimeout < 0 || busyTimeout > MAX_BUSY_TIMEOUT) {
    const shown = typeof busyTimeout === 'string' ? JSON.stringify(busyTimeout) : String(busyTimeout);
    throw new InvalidOptionError(
      'driverOptions.busyTimeout',
      `${shown} must be a whole number of milliseconds from 0 to ${MAX_BUSY_TIMEOUT}`,
    );
  }
  return (context) => openDatabase(join(context.root, fileName), busyTimeout, context.nodeId);
}

async function openDatabase(filename: string, busyTimeout: number, nodeId: string): Promise<SqliteDriver> {
  const deadline = Date.now() + busyTimeout;
  for (let attempt = 1; ; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(filename, { timeout: busyTimeout });
      // Switching to WAL needs a moment of exclusive access and does not wait on the busy
      // timeout, so two processes opening a new cache at once can see "locked" here.
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives process crashes; a power loss can lose the latest
      // commits, which startup reconcile re-adopts from the fsynced image files.
      db.pragma('synchronous = NORMAL');
      migrate(db, filename);
      return new SqliteDriver(db, nodeId);
    } catch (error) {
      db?.close();
      if (isBusy(error) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(10 * attempt, 200)));
        continue;
      }
      throw storeError(filename, error, busyTimeout);
    }
  }
}

function isBusy(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'SQLITE_LOCKED' || code?.startsWith('SQLITE_BUSY') === true;
}

/** Schema {@link migrate} found newer than this driver reads. */
class NewerSchemaError extends Error {}

/** What went wrong with the database file, in words that say how to recover. */
function storeError(filename: string, error: unknown, busyTimeout: number): DriverStoreError {
  const code = errnoCode(error) ?? '';
  const detail = (error as Error).message;
  const recovery = `stop every process using this cache, move ${filename} (with any ${basename(filename)}-wal and -shm files beside it) out of the cache directory and open the cache again: core then re-adopts every cached image file (re-hashing each; hit counts and access times start afresh)`;
  let reason: string;
  if (error instanceof NewerSchemaError) {
    reason = `${detail}. Upgrade @imgcache/driver-sqlite to the version that wrote it; or, to start afresh, ${recovery}`;
  } else if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    reason = `the file is not a readable SQLite database (${code}: ${detail}). To recover, ${recovery}`;
  } else if (isBusy(error)) {
    reason = `another process kept the database locked for more than busyTimeout (${busyTimeout} ms). Find the process holding it (fuser ${filename}), or raise driverOptions.busyTimeout`;
  } else if (/^(SQLITE_(CANTOPEN|READONLY|PERM|AUTH|IOERR))/.test(code) || code === 'EACCES' || code === 'EPERM') {
    reason = `the file cannot be opened for reading and writing (${code}: ${detail}). Check that this user may read and write ${filename} and its directory, and that the disk is healthy`;
  } else {
    reason = `${code ? `${code}: ` : ''}${detail}`;
  }
  return new DriverStoreError('sqlite', filename, reason, { cause: error });
}

function migrate(db: Database.Database, filename: string): void {
  const apply = db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new NewerSchemaError(
        `${filename} has schema ${version}, newer than this driver understands (${SCHEMA_VERSION})`,
      );
    }
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  apply.immediate();
}
