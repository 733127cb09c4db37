import type { Readable } from 'node:stream';
import type { Command } from 'commander';

/** A stream that may be a terminal, as `process.stdout` and `process.stderr` are. */
export type CliWritable = NodeJS.WritableStream & {
  isTTY?: boolean;
  columns?: number;
  hasColors?: (env?: object) => boolean;
};

/**
 * What one run of the CLI reads, writes and resolves against. The binary passes the
 * process's own (see {@link processIo}); tests pass their own streams, environment and
 * directory, so a run needs no child process. Commands reach the process through this
 * object only, never through `process.stdout`, `process.env` or `process.cwd()`; signals
 * are the exception (prefetch stops on the process's SIGINT).
 */
export interface CliIo {
  /** Image bytes for `cache-image ID -`, and the answers to confirmation prompts. */
  stdin: Readable & { isTTY?: boolean };
  /** Results: human lines, one JSON document, or image bytes (`get`). */
  stdout: CliWritable;
  /** Errors, warnings, progress and prompts, so stdout stays clean for pipes. */
  stderr: CliWritable;
  /** Where the `IMGCACHE_*` settings, `XDG_CACHE_HOME` and `HOME` are read. */
  env: NodeJS.ProcessEnv;
  /** The directory relative paths (`--dir`, `--config`, `get -o`, files) are resolved against. */
  cwd: string;
}

/** The running process's streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** The io of each program built by buildProgram, keyed by its root command. */
const ios = new WeakMap<Command, CliIo>();

/** Gives `program` (the root command) and all its subcommands the io of one run. */
export function attachIo(program: Command, io: CliIo): void {
  ios.set(program, io);
}

/**
 * The io of the run `command` belongs to.
 * @throws {Error} when the program was not built with an io (a programming error).
 */
export function ioFor(command: Command): CliIo {
  let root = command;
  while (root.parent) root = root.parent;
  const io = ios.get(root);
  if (!io) throw new Error(`imgcache: command ${command.name()} runs outside a program built by buildProgram(io).`);
  return io;
}
