import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../src/run-program.js';

export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Bytes on stdin (then its end). Without it stdin is empty. */
  input?: Buffer | string;
  cwd?: string;
  /** How long the binary may run before it is killed ({@link runBin} only). */
  timeoutMs?: number;
}

/** A scratch cache dir and an XDG cache home, so no test touches the real home directory. */
export interface Sandbox {
  root: string;
  dir: string;
  env: { IMGCACHE_DIR: string; XDG_CACHE_HOME: string; HOME: string };
  /** Runs `imgcache` in this process, through the program object ({@link runCli}). */
  run(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  /** Runs the built binary in a child process ({@link runBin}): for what only a process has. */
  runBin(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  json<T = any>(args: readonly string[], options?: RunOptions): Promise<T>;
  /** {@link Sandbox.json} through the built binary in a child process. */
  jsonBin<T = any>(args: readonly string[], options?: RunOptions): Promise<T>;
  cleanup(): Promise<void>;
}

export async function createSandbox(): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'imgcache-cli-'));
  const dir = join(root, 'cache');
  const env = { IMGCACHE_DIR: dir, XDG_CACHE_HOME: join(root, 'xdg'), HOME: join(root, 'home') };
  const sandbox: Sandbox = {
    root,
    dir,
    env,
    run: (args, options = {}) => runCli(args, { ...options, env: { ...env, ...options.env } }),
    runBin: (args, options = {}) => runBin(args, { ...options, env: { ...env, ...options.env } }),
    json: (args, options) => parseJson(args, sandbox.run(['--json', ...args], options)),
    jsonBin: (args, options) => parseJson(args, sandbox.runBin(['--json', ...args], options)),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return sandbox;
}

async function parseJson(args: readonly string[], running: Promise<CliResult>): Promise<any> {
  const result = await running;
  if (result.code !== 0) throw new Error(`imgcache ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** This process's environment without any IMGCACHE_* variable, with `extra` over it (undefined removes). */
function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('IMGCACHE_')));
  return Object.fromEntries(
    Object.entries({ ...baseEnv, ...extra }).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** A stdout or stderr that keeps what is written to it (not a terminal). */
class Capture extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    callback();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Runs `imgcache` in this process with a clean environment (no inherited IMGCACHE_*),
 * through the same program object and error handling as the binary: its own stdin, stdout
 * and stderr (none a terminal), the environment and working directory given, and the exit
 * status returned rather than exited with.
 */
export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const stdin = new PassThrough();
  stdin.end(Buffer.from(options.input ?? ''));
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runProgram(args, {
    stdin,
    stdout,
    stderr,
    env: cleanEnv(options.env),
    cwd: options.cwd ?? process.cwd(),
  });
  const stdoutBytes = stdout.bytes();
  return { code, stdout: stdoutBytes.toString('utf8'), stderr: stderr.bytes().toString('utf8'), stdoutBytes };
}

/**
 * Runs the built `imgcache` binary in a child process with a clean environment (no
 * inherited IMGCACHE_*): for exit codes, signals, pipes and process identity.
 */
export function runBin(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cleanEnv(options.env),
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(stdout);
      resolve({
        code,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        stdoutBytes,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Runs the binary inside a real pseudo-terminal (util-linux `script`), answering the first
 * prompt that contains `waitFor` with `answer`. Returns the exit status and the terminal
 * transcript.
 */
export function runInTerminal(
  args: readonly string[],
  env: Record<string, string>,
  waitFor: string,
  answer: string,
): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (!answered && output.includes(waitFor)) {
        answered = true;
        child.stdin.write(answer);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
