import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigFileError } from './errors.js';
import { errnoCode, removeFile } from './io/fs-errors.js';

/**
 * The budget a cache directory remembers, so that a tool opening the directory without a
 * `--max-size` of its own (`imgcache --dir <server dir> prune`) enforces the budget the
 * directory was created with, or the one its server last started with, instead of a
 * default that may be ten times larger.
 */
export interface RememberedBudget {
  /** Bytes. */
  maxSize: number;
  /** The program that wrote it, e.g. `imgcache-server 0.1.0`. */
  writtenBy: string;
  writtenAt: Date;
}

/** The file in the cache root that holds the remembered budget (JSON). */
export const BUDGET_FILE = 'budget.json';

/**
 * Reads the remembered budget of a cache directory.
 * @returns null when the directory remembers none (a cache made before budgets were
 * remembered, or none yet).
 * @throws {ConfigFileError} when the file exists but cannot be read or holds no valid budget.
 */
export async function readRememberedBudget(root: string): Promise<RememberedBudget | null> {
  const path = join(root, BUDGET_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return null;
    throw new ConfigFileError(path, (error as Error).message, { cause: error });
  }
  const fix = 'pass --max-size, or delete the file to forget the budget';
  let parsed: { maxSize?: unknown; writtenBy?: unknown; writtenAt?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new ConfigFileError(path, `not valid JSON; ${fix}`);
  }
  const { maxSize, writtenBy, writtenAt } = parsed ?? {};
  if (typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new ConfigFileError(path, `"maxSize" is not a whole number of bytes; ${fix}`);
  }
  return {
    maxSize,
    writtenBy: typeof writtenBy === 'string' ? writtenBy : 'unknown',
    writtenAt: new Date(typeof writtenAt === 'string' ? writtenAt : 0),
  };
}

/**
 * Records `maxSize` as the cache directory's budget. The file is written beside and renamed
 * over the old one, so a reader never sees half a file.
 * @param writtenBy the program writing it, e.g. `imgcache-server 0.1.0`.
 * @throws the filesystem's error when the directory cannot be written.
 */
export async function rememberBudget(root: string, maxSize: number, writtenBy: string): Promise<void> {
  const path = join(root, BUDGET_FILE);
  const temporary = `${path}.${process.pid}.tmp`;
  const body = `${JSON.stringify({ maxSize, writtenBy, writtenAt: new Date().toISOString() }, null, 2)}\n`;
  try {
    await writeFile(temporary, body);
    await rename(temporary, path);
  } catch (error) {
    await removeFile(temporary).catch(() => undefined);
    throw error;
  }
}
