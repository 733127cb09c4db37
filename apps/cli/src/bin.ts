#!/usr/bin/env node
import { CommanderError } from 'commander';
import { exitStatusOf } from './errors.js';
import { buildProgram } from './program.js';

/** Commander's own "errors" that are really successful exits. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.version']);

/** The exit status for an error: 2 for usage errors, 1 for failed operations. */
function exitStatusFor(error: unknown): number {
  if (error instanceof CommanderError) return CLEAN_EXITS.has(error.code) ? 0 : 2;
  return exitStatusOf(error);
}

function report(error: unknown, debug: boolean): void {
  // Commander has already printed its own message (and the help hint).
  if (error instanceof CommanderError) return;
  if (debug && error instanceof Error) {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    if (error.cause !== undefined) process.stderr.write(`caused by: ${describeCause(error.cause)}\n`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`imgcache: error: ${message}\n`);
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
}

// A reader that stops early (`imgcache list-cached | head`) closes the pipe: stop quietly,
// as other Unix tools do, instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

const argv = process.argv;
const separator = argv.indexOf('--');
const debug = (separator === -1 ? argv : argv.slice(0, separator)).includes('--debug');
try {
  await buildProgram().parseAsync(argv);
} catch (error) {
  report(error, debug);
  process.exitCode = exitStatusFor(error);
}
