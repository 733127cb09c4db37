#!/usr/bin/env node
import { processIo } from './cli-io.js';
import { runProgram } from './run-program.js';

// A reader that stops early (`imgcache list-cached | head`) closes the pipe: stop quietly,
// as other Unix tools do, instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

process.exitCode = await runProgram(process.argv.slice(2), processIo());
