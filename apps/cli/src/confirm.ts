import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.js';

/** Where a question is asked: the run's stdin, and its stderr (so stdout stays clean). */
export interface ConfirmIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

/**
 * Refuses early, before anything is opened, when a destructive command cannot ask for
 * confirmation (stdin is not a terminal) and `--force` was not given.
 * @throws {UsageError} when confirmation is impossible.
 */
export function assertCanConfirm(action: string, force: boolean, io: ConfirmIo): void {
  if (force || io.input.isTTY) return;
  throw new UsageError(
    `Refusing to ${action} without confirmation: stdin is not a terminal. Pass -f/--force to go ahead.`,
  );
}

/**
 * Asks a yes/no question on the terminal (prompt on stderr, so stdout stays clean).
 * Only `y` or `yes` count as yes; an empty answer means no.
 */
export async function confirm(question: string, force: boolean, io: ConfirmIo): Promise<boolean> {
  if (force) return true;
  const prompt = createInterface({ input: io.input, output: io.output, terminal: true });
  // End of input (Ctrl-D) answers no instead of leaving the question pending.
  const closed = new Promise<string>((resolve) => prompt.once('close', () => resolve('')));
  try {
    const answer = await Promise.race([prompt.question(`${question} [y/N] `), closed]);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}
