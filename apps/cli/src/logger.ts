import type { Logger } from '@imgcache/core';

/**
 * The logger the CLI hands to core: warnings and errors always go to `write` (the run's
 * stderr; for example the driver fallback warning), info and debug lines only with `--verbose`.
 */
export function createCliLogger(options: { verbose: boolean; write: (line: string) => void }): Logger {
  const write = options.write;
  const emit = (level: string, obj: unknown, msg?: string): void => {
    write(`imgcache: ${level}${describe(obj, msg, options.verbose)}\n`);
  };
  return {
    debug: (obj, msg) => options.verbose && emit('debug: ', obj, msg),
    info: (obj, msg) => options.verbose && emit('', obj, msg),
    warn: (obj, msg) => emit('warning: ', obj, msg),
    error: (obj, msg) => emit('error: ', obj, msg),
  };
}

/** The message, with the structured fields appended when verbose (or when there is no message). */
function describe(obj: unknown, msg: string | undefined, verbose: boolean): string {
  if (typeof obj === 'string') return obj;
  const fields = obj instanceof Error ? obj.message : JSON.stringify(obj);
  if (msg === undefined) return fields;
  return verbose ? `${msg} ${fields}` : msg;
}
