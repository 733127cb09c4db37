import { spawn, spawnSync, type ChildProcessByStdio, type SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The built `imgcache-server` (compiled by the build-once global setup). */
export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

/** A pino JSON log line. */
export type LogLine = Record<string, unknown> & { msg: string; level: number };

/** The environment without any IMGCACHE_* variable of the test runner, plus `env`. */
export function cleanEnv(env: Record<string, string> = {}): Record<string, string> {
  const base = Object.entries(process.env).filter(
    (entry): entry is [string, string] => !entry[0].startsWith('IMGCACHE_') && entry[1] !== undefined,
  );
  return { ...Object.fromEntries(base), ...env };
}

/** Runs the binary to its end (it must exit within 20 s): for usage and startup errors. */
export function runServerToExit(
  args: readonly string[],
  env: Record<string, string> = {},
  options: Pick<SpawnOptions, 'uid' | 'gid'> = {},
) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: cleanEnv(env),
    encoding: 'utf8',
    timeout: 20_000,
    ...options,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** A server child process and what it has logged so far. */
export class ServerProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  url = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private pending = '';
  private closed = false;
  private waiters: (() => void)[] = [];

  private constructor(args: readonly string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BIN, '--host', '127.0.0.1', '--port', '0', ...args], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // 'close' comes after the last output has been read, unlike 'exit'.
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.closed = true;
        resolve({ code, signal });
      }),
    );
    void this.exited.then(() => this.notify());
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.notify();
    });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.pending += chunk.toString();
      for (let newline = this.pending.indexOf('\n'); newline >= 0; newline = this.pending.indexOf('\n')) {
        const line = this.pending.slice(0, newline);
        this.pending = this.pending.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // Not a log line; ignore.
        }
      }
      this.notify();
    });
  }

  /** Starts the server and resolves once it logs its listening line. */
  static async start(args: readonly string[], env: Record<string, string> = {}): Promise<ServerProcess> {
    const server = new ServerProcess(args, env);
    const listening = await server.waitForLog((line) => line.msg === 'imgcache-server listening');
    server.url = String(listening.url);
    return server;
  }

  /** Everything written to stdout, as text. */
  get stdout(): string {
    return this.lines.map((line) => JSON.stringify(line)).join('\n');
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves with the first log line that matches; rejects if the process ends first or after 20 s. */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no matching log line within 20 s; stderr: ${this.stderr}`)),
        20_000,
      );
      const finish = (error?: Error, line?: LogLine) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        if (error) reject(error);
        else resolve(line!);
      };
      const check = () => {
        const line = this.lines.find(match);
        if (line) finish(undefined, line);
        else if (this.closed)
          finish(
            new Error(
              `exited (${this.child.exitCode ?? this.child.signalCode}) without the log line; stderr: ${this.stderr}`,
            ),
          );
      };
      this.waiters.push(check);
      check();
    });
  }

  /** Kills the process if it still runs and waits for it. */
  async kill(): Promise<void> {
    if (!this.closed) this.child.kill('SIGKILL');
    await this.exited;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
