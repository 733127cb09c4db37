import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigFileError } from './errors.js';

/**
 * Reads a config file of settings: TOML when its name ends in `.toml` (parsed by smol-toml,
 * TOML 1.0), JSON otherwise (as the CLI has always read it, whatever the name). The top level must be a table of keys to values; checking the keys and values
 * is the caller's job. Read synchronously: it is meant for start-up, before anything serves.
 * @returns the parsed table, e.g. `{ dir: "/var/cache/imgcache", maxSize: "20GiB" }`.
 * @throws {ConfigFileError} when the file cannot be read, does not parse, or does not hold
 * a table.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  const format = extname(path).toLowerCase() === '.toml' ? 'TOML' : 'JSON';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(path, (error as Error).message, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = format === 'JSON' ? JSON.parse(text) : parseToml(text);
  } catch (error) {
    // smol-toml's message spans lines (it quotes the offending line); keep the first.
    const detail = (error as Error).message.split('\n')[0];
    throw new ConfigFileError(path, `not valid ${format}: ${detail}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigFileError(path, `it must hold a ${format} object of settings, e.g. {"dir": "/var/cache/imgcache", "maxSize": "10GiB"}`);
  }
  return parsed as Record<string, unknown>;
}
