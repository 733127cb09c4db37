import { CommanderError } from 'commander';
import type { CliIo } from './cli-io.js';
import { exitStatusOf } from './errors.js';
import { buildProgram } from './program.js';

/** Commander's own "errors" that are really successful exits. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.version']);

/**
 * Runs one `imgcache` command line to the end: parses `args` (without the node and script
 * paths, e.g. `['--json', 'stats']`), runs the command, reports a failure on `io.stderr`,
 * and resolves with the exit status instead of exiting: 0 ok, 1 the operation failed,
 * 2 usage error, 130 interrupted. The binary sets it as the process's exit code; tests
 * call this directly with their own io.
 * Never rejects: every error becomes a message on `io.stderr` and a status.
 */
export async function runProgram(args: readonly string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(args, { from: 'user' });
    return 0;
  } catch (error) {
    report(error, io, wantsDebug(args));
    return exitStatusFor(error);
  }
}

/** The exit status for an error: 2 for usage errors, 1 for failed operations. */
function exitStatusFor(error: unknown): number {
  // `commander.help` is both `imgcache help [command]` (exit code 0) and help shown for a missing command (1).
  if (error instanceof CommanderError)
    return CLEAN_EXITS.has(error.code) || (error.code === 'commander.help' && error.exitCode === 0) ? 0 : 2;
  return exitStatusOf(error);
}

/** `--debug` among the options, not among the arguments after `--`. */
function wantsDebug(args: readonly string[]): boolean {
  const separator = args.indexOf('--');
  return (separator === -1 ? args : args.slice(0, separator)).includes('--debug');
}

function report(error: unknown, io: CliIo, debug: boolean): void {
  // Commander has already printed its own message (and the help hint).
  if (error instanceof CommanderError) return;
  if (debug && error instanceof Error) {
    io.stderr.write(`${error.stack ?? error.message}\n`);
    if (error.cause !== undefined) io.stderr.write(`caused by: ${describeCause(error.cause)}\n`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`imgcache: error: ${message}\n`);
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
}
