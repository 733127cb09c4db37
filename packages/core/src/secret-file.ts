import { readFileSync } from 'node:fs';
import { InvalidSettingError } from './errors.js';

/**
 * Reads a secret (a token) from a file, so that it never appears in argv, where `ps` and
 * `/proc/<pid>/cmdline` show it to every user. One trailing line break (`\n` or `\r\n`)
 * is dropped, as `echo` and editors add one; anything else is kept as written. Read
 * synchronously: it is meant for start-up.
 * @param setting the name to report, e.g. `--admin-token-file`.
 * @throws {InvalidSettingError} when the file cannot be read or holds nothing but a line break.
 */
export function readSecretFile(path: string, setting: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    throw new InvalidSettingError(setting, path, `cannot read ${path}: ${code ?? (error as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret.length === 0) throw new InvalidSettingError(setting, path, `${path} is empty`);
  return secret;
}
