import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { visit } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { ConfigFileError } from './errors.js';

/**
 * Reads a config file of settings: TOML when its name ends in `.toml` (parsed by smol-toml,
 * TOML 1.0), JSON otherwise (as the CLI has always read it, whatever the name). The top
 * level must be a table of keys to values; checking the keys and values is the caller's
 * job. Read synchronously: it is meant for start-up, before anything serves.
 *
 * A TOML float comes back as its decimal text (`port = 9393.0` gives `"9393.0"`), so a
 * setting that must be a whole number refuses it as it refuses `--port 9393.0`; a TOML
 * integer comes back as a number (as a string of digits beyond 2^53, which no setting takes).
 * @returns the parsed table, e.g. `{ dir: "/var/cache/imgcache", maxSize: "20GiB" }`.
 * @throws {ConfigFileError} when the file cannot be read, does not parse, does not hold
 * a table, or (JSON) repeats a key in one object: JSON.parse would keep the last silently.
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
    // Integers as BigInt, so that a float (a plain number then) can be told from an integer.
    parsed = format === 'JSON' ? JSON.parse(text) : fromToml(parseToml(text, { integersAsBigInt: true }));
  } catch (error) {
    // smol-toml's message spans lines (it quotes the offending line); keep the first.
    const detail = (error as Error).message.split('\n')[0];
    throw new ConfigFileError(path, `not valid ${format}: ${detail}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigFileError(
      path,
      `it must hold a ${format} object of settings, e.g. {"dir": "/var/cache/imgcache", "maxSize": "10GiB"}`,
    );
  }
  if (format === 'JSON') {
    const repeated = firstRepeatedKey(text);
    if (repeated !== undefined)
      throw new ConfigFileError(path, `the key ${JSON.stringify(repeated)} is given twice; keep one`);
  }
  return parsed as Record<string, unknown>;
}

/** TOML values with integers as numbers (or digit strings past 2^53) and floats as decimal text. */
function fromToml(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (typeof value === 'number') return Number.isInteger(value) ? value.toFixed(1) : String(value);
  if (Array.isArray(value)) return value.map(fromToml);
  if (typeof value === 'object' && value !== null && [null, Object.prototype].includes(Object.getPrototypeOf(value))) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromToml(item)]));
  }
  return value;
}

/**
 * The first key that appears twice in one object of a JSON text (already known to parse),
 * found with jsonc-parser's visitor since JSON.parse hides repeats.
 */
function firstRepeatedKey(text: string): string | undefined {
  const open: Set<string>[] = [];
  let repeated: string | undefined;
  visit(text, {
    onObjectBegin: () => void open.push(new Set()),
    onObjectEnd: () => void open.pop(),
    onObjectProperty: (key) => {
      const keys = open.at(-1)!;
      if (keys.has(key)) repeated ??= key;
      keys.add(key);
    },
  });
  return repeated;
}
