import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** The run's PostgreSQL admin URL, or '' (tests then skip, saying why). */
export const postgresUrl = inject('postgresUrl');
export const postgresMissing = postgresUrl ? '' : `no PostgreSQL for these tests: ${inject('postgresMissing')}`;
if (postgresMissing) console.warn(postgresMissing);

/** Creates an empty database for one test file and returns its URL. */
export async function createDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
