import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Bytes written to the child's stdin (then closed). Without it stdin is an empty pipe. */
  input?: Buffer | string;
  cwd?: string;
  timeoutMs?: number;
}

/** A scratch cache dir and an XDG cache home, so no test touches the real home directory. */
export interface Sandbox {
  root: string;
  dir: string;
  env: { IMGCACHE_DIR: string; XDG_CACHE_HOME: string; HOME: string };
  run(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  json<T = any>(args: readonly string[], options?: RunOptions): Promise<T>;
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
    async json(args, options) {
      const result = await sandbox.run(['--json', ...args], options);
      if (result.code !== 0) throw new Error(`imgcache ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
      return JSON.parse(result.stdout);
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return sandbox;
}

/** Runs the built `imgcache` binary with a clean environment (no inherited IMGCACHE_*). */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('IMGCACHE_')));
  const env = Object.fromEntries(Object.entries({ ...baseEnv, ...options.env }).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), stdoutBytes });
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
export function runInTerminal(args: readonly string[], env: Record<string, string>, waitFor: string, answer: string): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
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
