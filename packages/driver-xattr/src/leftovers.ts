import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseWorkFileName } from '@imgcache/core';
import { errorCode } from './attributes.js';

/** Removes temporary links and probe files of processes that died before cleaning up. */
export async function sweepLeftovers(root: string, indexDir: string): Promise<void> {
  for (const name of await readdir(indexDir)) {
    const owner = parseWorkFileName(name);
    if (owner && !isAlive(owner.pid)) await unlinkIfPresent(join(indexDir, name));
  }
  for (const name of await readdir(root)) {
    const match = /^\.imgcache-xattr-probe-(\d+)-[0-9a-f]+$/.exec(name);
    if (match && !isAlive(Number(match[1]))) await unlinkIfPresent(join(root, name));
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** Unlinks `path`; a missing file is fine. */
export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}
