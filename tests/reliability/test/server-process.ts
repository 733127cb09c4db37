import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { startServer, type ImageServer } from '@imgcache/server';

const require = createRequire(import.meta.url);
export const serverBin = join(dirname(require.resolve('@imgcache/server/package.json')), 'dist', 'bin.js');
export const cliBin = join(dirname(require.resolve('@imgcache/cli/package.json')), 'dist', 'bin.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stderr (and stdout lines that are not JSON logs). */
  output: () => string;
  /** Resolves with the exit code and signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the process to end (SIGKILL after 15 s whatever was sent). */
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `imgcache-server` as a child process and resolves once its "listening" log line
 * (JSON, with the URL) has been printed.
 * @throws when the process ends or stays silent for 20 s before listening.
 */
export function startServerProcess(args: string[]): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [serverBin, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      return await exited;
    } finally {
      clearTimeout(guard);
    }
  };
  return new Promise((resolve, reject) => {
    let pending = '';
    let listening = false;
    const guard = setTimeout(() => {
      void stop();
      reject(new Error(`imgcache-server did not start within 20 s: ${output}`));
    }, 20_000);
    child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
    child.stdout!.on('data', (data: Buffer) => {
      pending += data.toString();
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        type LogLine = { msg?: string; url?: string; level?: number };
        let entry: LogLine | null = null;
        try {
          entry = JSON.parse(line) as LogLine;
        } catch {
          output += `${line}\n`;
        }
        if (entry && entry.level !== undefined && entry.level >= 40) output += `${line}\n`;
        if (!listening && entry?.msg === 'imgcache-server listening' && entry.url) {
          listening = true;
          clearTimeout(guard);
          resolve({ child, url: entry.url, output: () => output, exited, stop });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      if (listening) return;
      clearTimeout(guard);
      reject(new Error(`imgcache-server exited before listening (code ${code}, signal ${signal}): ${output}`));
    });
  });
}

export interface Download {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  sha256: string;
  body?: string;
}

/**
 * GETs a URL and hashes the body as it streams (never buffering an image). Small non-200
 * bodies are kept as text for assertions.
 * @throws the transport error when the connection breaks before the body is complete.
 */
export async function download(
  url: string,
  options: {
    signal?: AbortSignal;
    headers?: Record<string, string>;
    method?: 'GET' | 'HEAD';
    dispatcher?: Dispatcher;
  } = {},
): Promise<Download> {
  const response = await request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    signal: options.signal,
    dispatcher: options.dispatcher,
  });
  const hash = createHash('sha256');
  let bytes = 0;
  const small: Buffer[] = [];
  for await (const chunk of response.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
    if (response.statusCode !== 200 && bytes < 64 * 1024) small.push(chunk as Buffer);
  }
  return {
    status: response.statusCode,
    headers: response.headers,
    bytes,
    sha256: `sha256:${hash.digest('hex')}`,
    ...(small.length ? { body: Buffer.concat(small).toString('utf8') } : {}),
  };
}

/**
 * Starts the server in this process, public, with an admin token and no background
 * maintenance (the prefetcher would fetch queued ids from the origin; tests stay
 * deterministic), logging nothing.
 */
export function startQuietServer(settings: {
  origin: string;
  dir: string;
  adminToken: string;
  maxSize: number;
}): Promise<ImageServer> {
  return startServer(
    {
      ...settings,
      host: '127.0.0.1',
      port: 0,
      driver: 'sqlite',
      minFree: { bytes: 0 },
      stallTime: 86_400,
      checksumAlgorithm: 'sha256',
      public: true,
      authTtl: 60,
      prefetchConcurrency: 1,
      maintenanceInterval: 0,
      logLevel: 'silent',
      rangeMiss: 'fill',
    },
    { logger: false },
  );
}
