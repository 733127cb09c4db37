import type pg from 'pg';
import { ClusterError } from './errors.js';

/** One step of the shared schema; applied once, in order, never edited after release. */
interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * The schema's history. Every table is prefixed `imgcache_` so the cluster can share a
 * database (and a schema) with other applications.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'nodes',
    sql: `
      CREATE TABLE imgcache_nodes (
        node_id      text PRIMARY KEY,
        url          text NOT NULL,
        weight       double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
        state        text NOT NULL CHECK (state IN ('joining', 'active', 'draining', 'dead')),
        started_at   timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX imgcache_nodes_url ON imgcache_nodes (url);
    `,
  },
  {
    version: 2,
    description: 'holdings and purge log',
    sql: `
      CREATE TABLE imgcache_holdings (
        node_id    text NOT NULL,
        image_id   text NOT NULL,
        state      text NOT NULL CHECK (state IN ('filling', 'cached', 'evicting')),
        size       bigint,
        checksum   text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (node_id, image_id)
      );
      CREATE INDEX imgcache_holdings_image ON imgcache_holdings (image_id);
      CREATE TABLE imgcache_purges (
        seq        bigserial PRIMARY KEY,
        image_id   text NOT NULL,
        origin_node text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      ALTER TABLE imgcache_nodes ADD COLUMN purge_seq bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 3,
    description: 'prefetch jobs',
    sql: `
      CREATE TABLE imgcache_jobs (
        id         bigserial PRIMARY KEY,
        image_id   text NOT NULL,
        target     text NOT NULL CHECK (target = 'owner' OR target LIKE 'node:%'),
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 4,
    description: 'fill leases',
    sql: `
      CREATE TABLE imgcache_fill_leases (
        image_id   text PRIMARY KEY,
        node_id    text NOT NULL,
        url        text NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 5,
    description: 'cluster commands, filling holdings index',
    sql: `
      CREATE TABLE imgcache_commands (
        id         bigserial PRIMARY KEY,
        kind       text NOT NULL CHECK (kind IN ('prune', 'clean', 'clear')),
        args       jsonb NOT NULL DEFAULT '{}',
        issued_by  text NOT NULL,
        targets    text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        deadline   timestamptz NOT NULL
      );
      CREATE TABLE imgcache_command_results (
        command_id  bigint NOT NULL REFERENCES imgcache_commands (id) ON DELETE CASCADE,
        node_id     text NOT NULL,
        status      text NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        result      jsonb,
        error       text,
        started_at  timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        PRIMARY KEY (command_id, node_id)
      );
      CREATE INDEX imgcache_holdings_filling ON imgcache_holdings (node_id) WHERE state = 'filling';
    `,
  },
  {
    version: 6,
    description: 'command results sealed as dead or timed out once the command is done',
    sql: `
      ALTER TABLE imgcache_command_results
        DROP CONSTRAINT imgcache_command_results_status_check,
        ADD CONSTRAINT imgcache_command_results_status_check
          CHECK (status IN ('running', 'ok', 'failed', 'dead', 'timed_out'));
    `,
  },
];

/** The schema version this release writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * A transaction-level advisory lock key (any constant; this is "imgcache" in ASCII):
 * held only for the migration transaction, so it never pins a pooled connection and
 * works behind PgBouncer in transaction mode.
 */
const MIGRATION_LOCK = 0x696d6763616368;

/**
 * Brings the database to {@link SCHEMA_VERSION}: takes the migration lock, then applies
 * the missing migrations in one transaction. Nodes starting together serialise on the
 * lock; the second finds the work done.
 * @returns the versions applied by this call (empty when the schema was current).
 * @throws {ClusterError} `ERR_IMGCACHE_CLUSTER_SCHEMA` when the database was migrated by a
 * newer release (upgrade this node, or point it at another database).
 * @throws the driver's error when the database cannot be reached or a statement fails
 * (then nothing of the failed transaction is applied).
 */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS imgcache_schema_migrations (
      version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM imgcache_schema_migrations',
    );
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new ClusterError(
        'ERR_IMGCACHE_CLUSTER_SCHEMA',
        `the cluster database has schema version ${current}, newer than this release's ${SCHEMA_VERSION}: upgrade @imgcache/cluster-postgres on this node`,
      );
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO imgcache_schema_migrations (version, description) VALUES ($1, $2)', [
        migration.version,
        migration.description,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
