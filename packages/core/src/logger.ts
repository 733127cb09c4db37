/**
 * The logging surface imgcache uses. pino, bunyan and `console` all fit it.
 * Each method takes a message, or an object of fields followed by a message.
 */
export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Writes warnings and errors to stderr; quiet otherwise. The default when none is given. */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(obj, msg) {
    process.stderr.write(`imgcache warn: ${format(obj, msg)}\n`);
  },
  error(obj, msg) {
    process.stderr.write(`imgcache error: ${format(obj, msg)}\n`);
  },
};

/** Discards everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function format(obj: unknown, msg?: string): string {
  if (typeof obj === 'string') return obj;
  const fields = obj instanceof Error ? obj.message : JSON.stringify(obj);
  return msg ? `${msg} ${fields}` : fields;
}
