import { ImgcacheError, type ImgcacheErrorCode } from '@imgcache/core';

/** Exit status of a command that failed: 1 when the operation failed, 2 for a usage error, 130 when interrupted. */
export type ExitStatus = 1 | 2 | 130;

/** The codes of the CLI's own errors, each with its exit status. */
const EXIT_STATUS = {
  ERR_IMGCACHE_CLI_USAGE: 2,
  ERR_IMGCACHE_CLI_FAILED: 1,
  ERR_IMGCACHE_CLI_INTERRUPTED: 130,
  ERR_IMGCACHE_CLI_REMOTE: 1,
} as const satisfies Partial<Record<ImgcacheErrorCode, ExitStatus>>;

/** Core errors that mean the command line or configuration asked for something impossible (exit 2). */
const USAGE_CODES = [
  'ERR_IMGCACHE_INVALID_OPTION',
  'ERR_IMGCACHE_INVALID_CHECKSUM',
  'ERR_IMGCACHE_INVALID_SETTING',
  'ERR_IMGCACHE_CONFIG_FILE',
] as const satisfies readonly ImgcacheErrorCode[];

type CliErrorCode = keyof typeof EXIT_STATUS;

/**
 * An error the CLI reports as one clear line and an exit status, never a stack trace. It is
 * an {@link ImgcacheError}: match it with `ImgcacheError.is(error, code)`, which works across
 * duplicate installs.
 */
export class CliError extends ImgcacheError {
  readonly exitStatus: ExitStatus;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.exitStatus = EXIT_STATUS[code];
  }
}

/**
 * The exit status an error ends the CLI with: the CLI's own errors carry theirs, core's
 * configuration errors are usage errors (2), anything else a failed operation (1). Matched by
 * code with `ImgcacheError.is`, never by class or message.
 */
export function exitStatusOf(error: unknown): ExitStatus {
  for (const [code, status] of Object.entries(EXIT_STATUS) as [CliErrorCode, ExitStatus][]) {
    if (ImgcacheError.is(error, code)) return status;
  }
  return USAGE_CODES.some((code) => ImgcacheError.is(error, code)) ? 2 : 1;
}

/** The command line, environment or config file asks for something impossible (exit 2). */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_CLI_USAGE', message, options);
  }
}

/** The operation ran and failed, already reported in detail (exit 1). */
export class OperationFailedError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IMGCACHE_CLI_FAILED', message, options);
  }
}

/** The operator interrupted the command (Ctrl-C); what was done so far is kept (exit 130). */
export class InterruptedError extends CliError {
  constructor(message: string) {
    super('ERR_IMGCACHE_CLI_INTERRUPTED', message);
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
    super('ERR_IMGCACHE_CLI_REMOTE', message, options);
  }
}
