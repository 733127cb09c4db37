import { stat } from 'node:fs/promises';

/**
 * What changes when a name is added to or removed from a directory: its modification and
 * change times (nanoseconds, as far as the filesystem keeps them) and its inode, so a
 * directory deleted and recreated under the same path does not pass for the old one.
 */
export interface DirectoryStamp {
  readonly ino: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** @throws the filesystem error when the directory cannot be stat'ed. */
export async function readDirectoryStamp(directory: string): Promise<DirectoryStamp> {
  const { ino, mtimeNs, ctimeNs } = await stat(directory, { bigint: true });
  return { ino, mtimeNs, ctimeNs };
}

export function sameStamp(a: DirectoryStamp | null, b: DirectoryStamp | null): boolean {
  return a !== null && b !== null && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}
