import { inject } from 'vitest';
import { createTestDatabase } from '../../src/testing/index.js';

/** The run's PostgreSQL admin URL, or '' (tests then skip, saying why). */
export const postgresUrl = inject('postgresUrl');
export const postgresMissing = postgresUrl ? '' : `no PostgreSQL for these tests: ${inject('postgresMissing')}`;
if (postgresMissing) console.warn(postgresMissing);

/** Creates an empty database for one test file and returns its URL. */
export function createDatabase(prefix: string): Promise<string> {
  return createTestDatabase(postgresUrl, prefix);
}
