const CLI_ERROR = Symbol.for('imgcache.cli.error');

/** Exit status of a command that failed: 1 when the operation failed, 2 for a usage error, 130 when interrupted. */
export type ExitStatus = 1 | 2 | 130;

/**
 * An error the CLI reports as one clear line and an exit status, never a stack trace.
 * Like core's errors it carries a stable `code` and a `Symbol.for` marker, so
 * {@link CliError.is} recognises it across duplicate installs.
 */
export class CliError extends Error {
  constructor(
    readonly code: 'ERR_IMGCACHE_CLI_USAGE' | 'ERR_IMGCACHE_CLI_FAILED' | 'ERR_IMGCACHE_CLI_INTERRUPTED' | 'ERR_IMGCACHE_CLI_REMOTE',
    message: string,
    readonly exitStatus: ExitStatus,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    Object.defineProperty(this, CLI_ERROR, { value: true });
  }

  static is(error: unknown): error is CliError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[CLI_ERROR] === true;
  }
}

/** The command line, environment or config file asks for something impossible (exit 2). */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_CLI_USAGE', message, 2, options);
  }
}

/** The operation ran and failed, already reported in detail (exit 1). */
export class OperationFailedError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_CLI_FAILED', message, 1, options);
  }
}

/** The operator interrupted the command (Ctrl-C); what was done so far is kept (exit 130). */
export class InterruptedError extends CliError {
  constructor(message: string) {
    super('ERR_IMGCACHE_CLI_INTERRUPTED', message, 130);
  }
}

/**
 * A request to a managed server failed: unreachable, timed out, refused, or answered with
 * an error or an unexpected body (exit 1). `status` is the HTTP status when there was one.
 */
export class RemoteRequestError extends CliError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_CLI_REMOTE', message, 1, options);
  }
}
