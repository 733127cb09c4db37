import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The built `imgcache-server` of this repository (build it with turbo before the tests). */
export const SERVER_BIN = fileURLToPath(new URL('../../../server/dist/bin.js', import.meta.url));

export interface RunningServer {
  /** The URL it listens on, as logged, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Kills the process and waits for it to end. */
  stop(): Promise<void>;
}

/**
 * Starts `imgcache-server` on an ephemeral port and resolves with its URL once its
 * `imgcache-server listening` JSON log line has been printed.
 * @throws when the server is not built, or the process ends or prints no listening line within 20 s.
 */
export function startImgcacheServer(args: readonly string[]): Promise<RunningServer> {
  if (!existsSync(SERVER_BIN)) {
    return Promise.reject(
      new Error(`${SERVER_BIN} is missing: build the server first (npx turbo run build --filter=@imgcache/server)`),
    );
  }
  const child = spawn(
    process.execPath,
    [SERVER_BIN, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let log = '';
    let pending = '';
    let listening = false;
    const fail = (why: string) => {
      if (listening) return;
      clearTimeout(timer);
      void stop();
      reject(new Error(`imgcache-server ${why}:\n${log}`));
    };
    const timer = setTimeout(() => fail('printed no listening line within 20 s'), 20_000);
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        log += `${line}\n`;
        let entry: { msg?: string; url?: string } | undefined;
        try {
          entry = JSON.parse(line) as { msg?: string; url?: string };
        } catch {
          continue;
        }
        if (!listening && entry.msg === 'imgcache-server listening' && entry.url) {
          listening = true;
          clearTimeout(timer);
          resolve({ url: entry.url, stop });
        }
      }
    });
    child.once('exit', (code, signal) => fail(`exited before listening (code ${code}, signal ${signal})`));
  });
}

export interface LocalHttpServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts a plain `node:http` server on 127.0.0.1 with an ephemeral port. */
export async function startHttpServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<LocalHttpServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        // Requests left hanging on purpose must not keep the server open.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on which nothing listens: a port that was free a moment ago. */
export async function unusedUrl(): Promise<string> {
  const probe = await startHttpServer((_request, response) => response.end());
  await probe.close();
  return probe.url;
}

/**
 * Ports the WHATWG Fetch standard blocks ("bad ports", https://fetch.spec.whatwg.org/#port-blocking)
 * that are ordinary ports to everything else: Node's global fetch refuses them.
 */
const BAD_PORTS = [6666, 6665, 6667, 6668, 6669, 6000, 6697, 10080];

/** The first of {@link BAD_PORTS} that 127.0.0.1 can bind now, or undefined when all are taken. */
export async function freeBadPort(): Promise<number | undefined> {
  for (const port of BAD_PORTS) {
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
  return undefined;
}
