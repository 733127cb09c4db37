import { startTestPostgres } from '@imgcache/cluster-postgres/testing';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The admin URL of the run's PostgreSQL, or '' when none could be started. */
    postgresUrl: string;
    /** Why there is no PostgreSQL ('' when there is). */
    postgresMissing: string;
  }
}

/**
 * Starts one real PostgreSQL for the cluster tests of this run (they make a database per
 * file) and stops it at the end. Only runs that include a test under test/cluster/ pay
 * for it.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const filters = project.vitest.config.filters ?? [];
  const wanted = filters.length === 0 || filters.some((filter) => filter.includes('cluster'));
  if (!wanted) {
    project.provide('postgresUrl', '');
    project.provide('postgresMissing', 'not started: no cluster test in this run');
    return undefined;
  }
  const started = await startTestPostgres();
  project.provide('postgresUrl', started.ok ? started.postgres.url : '');
  project.provide('postgresMissing', started.ok ? '' : started.reason);
  return started.ok ? () => started.postgres.stop() : undefined;
}
