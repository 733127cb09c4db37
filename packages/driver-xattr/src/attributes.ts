import { getAttribute, removeAttribute, setAttribute } from 'fs-xattr';
import { errnoCode } from '@imgcache/core';

/**
 * Attribute layout. Two attributes in the `user.imgcache.` namespace, each a small JSON
 * object (under 300 bytes even with a sha512 checksum, far below ext4's 4 KiB):
 *
 * - `user.imgcache.entry`  `{"v":1,"size":…,"checksum":"sha256:…","lastModified":…}`,
 *   written once by commit.
 * - `user.imgcache.access` `{"of":<lastModified>,"hits":…,"lastAccessed":…}`, rewritten by
 *   every hit. `of` names the commit it counts for: an access record left by a hit that
 *   raced with a newer commit (from another process) is ignored instead of carrying old
 *   hits over to the new file.
 */
export const ENTRY_ATTRIBUTE = 'user.imgcache.entry';
export const ACCESS_ATTRIBUTE = 'user.imgcache.access';

/** Refuse to write anything near the smallest common per-inode limit (ext4: one 4 KiB block). */
export const MAX_ATTRIBUTE_BYTES = 1024;

export interface StoredEntry {
  size: number;
  checksum: string;
  lastModified: number;
}

export interface StoredAccess {
  hits: number;
  lastAccessed: number;
}

const ENTRY_FORMAT = 1;

/** The entry attribute of `path`, or null when the file or the attribute is absent or not ours. */
export async function readEntry(path: string): Promise<StoredEntry | null> {
  const raw = await readAttribute(path, ENTRY_ATTRIBUTE);
  return raw === null ? null : decodeEntry(raw);
}

/** The access record of `path` for the commit `entry`; the commit's own values when no hit counts for it. */
export async function readAccess(path: string, entry: StoredEntry): Promise<StoredAccess> {
  const raw = await readAttribute(path, ACCESS_ATTRIBUTE);
  const fresh = { hits: 0, lastAccessed: entry.lastModified };
  if (raw === null) return fresh;
  const parsed = parseObject(raw);
  if (!parsed || parsed.of !== entry.lastModified || !isCount(parsed.hits) || !isCount(parsed.lastAccessed))
    return fresh;
  return { hits: parsed.hits, lastAccessed: parsed.lastAccessed };
}

export async function writeEntry(path: string, entry: StoredEntry): Promise<void> {
  const { size, checksum, lastModified } = entry;
  await setAttribute(path, ENTRY_ATTRIBUTE, encode({ v: ENTRY_FORMAT, size, checksum, lastModified }));
}

export async function writeAccess(path: string, entry: StoredEntry, access: StoredAccess): Promise<void> {
  await setAttribute(
    path,
    ACCESS_ATTRIBUTE,
    encode({ of: entry.lastModified, hits: access.hits, lastAccessed: access.lastAccessed }),
  );
}

/**
 * Removes both attributes; absent attributes are fine.
 * @returns whether the entry attribute was there, i.e. whether this was an entry.
 * @throws the ENOENT error when the file is gone.
 */
export async function stripAttributes(path: string): Promise<boolean> {
  let wasEntry = true;
  for (const name of [ENTRY_ATTRIBUTE, ACCESS_ATTRIBUTE]) {
    try {
      await removeAttribute(path, name);
    } catch (error) {
      if (!isMissingAttribute(error)) throw error;
      if (name === ENTRY_ATTRIBUTE) wasEntry = false;
    }
  }
  return wasEntry;
}

/** The attribute's value; null when the file or the attribute does not exist. */
async function readAttribute(path: string, name: string): Promise<string | null> {
  try {
    return (await getAttribute(path, name)).toString('utf8');
  } catch (error) {
    if (isMissingAttribute(error) || errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
}

function encode(value: Record<string, unknown>): string {
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_ATTRIBUTE_BYTES) {
    throw new RangeError(
      `imgcache xattr metadata would be ${Buffer.byteLength(text)} bytes, over the ${MAX_ATTRIBUTE_BYTES}-byte limit`,
    );
  }
  return text;
}

function decodeEntry(raw: string): StoredEntry | null {
  const parsed = parseObject(raw);
  if (!parsed || parsed.v !== ENTRY_FORMAT) return null;
  const { size, checksum, lastModified } = parsed;
  if (!isCount(size) || typeof checksum !== 'string' || !isCount(lastModified)) return null;
  return { size, checksum, lastModified };
}

function parseObject(raw: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Linux reports a missing attribute as ENODATA; BSD and macOS as ENOATTR. */
export function isMissingAttribute(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ENODATA' || code === 'ENOATTR';
}
