import type { TestProject } from 'vitest/node';
import { startTestPostgres } from '../../src/testing/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The admin URL of the run's PostgreSQL, or '' when none could be started. */
    postgresUrl: string;
    /** Why there is no PostgreSQL ('' when there is). */
    postgresMissing: string;
  }
}

/** Starts one PostgreSQL for the run and stops it when the run ends. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = await startTestPostgres();
  project.provide('postgresUrl', started.ok ? started.postgres.url : '');
  project.provide('postgresMissing', started.ok ? '' : started.reason);
  return async () => {
    if (started.ok) await started.postgres.stop();
  };
}
