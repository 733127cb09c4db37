import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../src/migrations.js';
import { createDatabase, postgresMissing } from './helpers/database.js';

describe.skipIf(postgresMissing)('schema migrations', () => {
  let url: string;
  const pools: pg.Pool[] = [];
  const pool = () => {
    const created = new pg.Pool({ connectionString: url, max: 2 });
    pools.push(created);
    return created;
  };
  beforeAll(async () => {
    url = await createDatabase('migrations');
  });
  afterAll(async () => {
    await Promise.all(pools.map((each) => each.end()));
  });

  it('applies each version exactly once when nodes start together', async () => {
    const results = await Promise.all([migrate(pool()), migrate(pool()), migrate(pool())]);
    expect(results.flat().sort()).toEqual(MIGRATIONS.map((migration) => migration.version));
    const { rows } = await pool().query('SELECT version FROM imgcache_schema_migrations ORDER BY version');
    expect(rows.map((row: { version: number }) => row.version)).toEqual(
      MIGRATIONS.map((migration) => migration.version),
    );
    expect(await migrate(pool())).toEqual([]);
  });

  it('refuses a database migrated by a newer release', async () => {
    const newer = pool();
    await newer.query("INSERT INTO imgcache_schema_migrations (version, description) VALUES ($1, 'from the future')", [
      SCHEMA_VERSION + 1,
    ]);
    await expect(migrate(newer)).rejects.toMatchObject({ code: 'ERR_IMGCACHE_CLUSTER_SCHEMA' });
    await newer.query('DELETE FROM imgcache_schema_migrations WHERE version = $1', [SCHEMA_VERSION + 1]);
  });
});
