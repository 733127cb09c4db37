import { createHash, randomBytes } from 'node:crypto';

/**
 * The longest file name, in bytes, the cache ever creates: NAME_MAX of Linux's common
 * filesystems (ext4, xfs, btrfs, tmpfs) and of APFS. Every name derived from an image id
 * (work files, claims, quarantined files, driver index links) fits in it.
 */
export const MAX_NAME_BYTES = 255;

/**
 * Longest key kept whole. The longest suffix appended to a key is a claim's
 * `~<pid>-<12 hex>.lock` (at most 31 bytes with a 10-digit pid) or a quarantine name's
 * `~<cause>-<12 hex>` (at most 23 bytes), so 200 leaves room for both.
 */
export const MAX_KEY_LENGTH = 200;

/** Hex digits of sha256 kept in a shortened key: 128 bits, so distinct ids never share one in practice. */
const KEY_HASH_LENGTH = 32;

/** Separates a key from its suffix; `~` never occurs in an image id or a key. */
const SEPARATOR = '~';

/** Marks a shortened key; `#` never occurs in an image id, so a shortened key never equals an id. */
const SHORTENED = '#';

/**
 * The form of an image id (or of a name made of `[A-Za-z0-9._-]`) that goes into derived
 * file names: the id itself up to {@link MAX_KEY_LENGTH} characters; for a longer one, its
 * first 167 characters, `#`, and 32 hex digits of its sha256. Deterministic, so every
 * process derives the same key, and claims on one image are compared by key.
 */
export function nameKey(value: string): string {
  if (value.length <= MAX_KEY_LENGTH) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, KEY_HASH_LENGTH);
  return `${value.slice(0, MAX_KEY_LENGTH - KEY_HASH_LENGTH - 1)}${SHORTENED}${hash}`;
}

/** A fresh random suffix part: 12 lowercase hex digits. */
export function randomTag(): string {
  return randomBytes(6).toString('hex');
}

/** A claim file's parts: the key of the image it claims, the claiming process, and whether it is a lock (no data). */
export interface ClaimName {
  key: string;
  pid: number;
  /** True for a lock (`.lock`): a claim that holds no data of its own. */
  lock: boolean;
}

/**
 * Name of a claim file in `incomplete/`: `<key>~<pid>-<random>` for a writer's work file,
 * `<key>~<pid>-<random>.lock` for a lock (a maintenance claim, or a writer's claim while it commits).
 */
export function workFileName(imageId: string, pid: number, random: string = randomTag(), lock = false): string {
  return `${nameKey(imageId)}${SEPARATOR}${pid}-${random}${lock ? '.lock' : ''}`;
}

/** The parts of a claim file name, or null for a name the cache did not make. */
export function parseWorkFileName(name: string): ClaimName | null {
  const at = name.lastIndexOf(SEPARATOR);
  if (at <= 0) return null;
  const match = /^(\d+)-[0-9a-z]+(\.lock)?$/.exec(name.slice(at + 1));
  if (!match) return null;
  return { key: name.slice(0, at), pid: Number(match[1]), lock: match[2] !== undefined };
}

/**
 * Why a file was moved to `invalid/`; the word is part of its name there.
 * - `failed`: a write that did not verify, was aborted or could not be finished.
 * - `abandoned`: the work file of a writer that is gone (a crash).
 * - `foreign`: a file the cache did not name, found where only its own files belong.
 * - `resized`: a cached file whose size differs from its metadata.
 * - `corrupt`: a cached file whose content fails its recorded checksum.
 * - `orphan`: a file in `images/` without metadata, found by verify.
 */
export type QuarantineCause = 'failed' | 'abandoned' | 'foreign' | 'resized' | 'corrupt' | 'orphan';

const QUARANTINE_CAUSES: ReadonlySet<string> = new Set<QuarantineCause>([
  'failed',
  'abandoned',
  'foreign',
  'resized',
  'corrupt',
  'orphan',
]);

/**
 * Name of a quarantined file: `<key>~<cause>-<random>`. `subject` is the image id, a key
 * read from a claim name, or any other file name (characters outside `[A-Za-z0-9._-]`
 * become `_`). The random part keeps every quarantined file, however often an image fails.
 */
export function quarantineName(subject: string, cause: QuarantineCause, random: string = randomTag()): string {
  const safe = subject.replace(/[^A-Za-z0-9._#-]/g, '_') || '_';
  return `${nameKey(safe)}${SEPARATOR}${cause}-${random}`;
}

/** The parts of a quarantine name, or null for a name of another form (older versions, other tools). */
export function parseQuarantineName(name: string): { key: string; cause: QuarantineCause } | null {
  const at = name.lastIndexOf(SEPARATOR);
  if (at <= 0) return null;
  const match = /^([a-z]+)-[0-9a-z]+$/.exec(name.slice(at + 1));
  if (!match || !QUARANTINE_CAUSES.has(match[1]!)) return null;
  return { key: name.slice(0, at), cause: match[1] as QuarantineCause };
}
