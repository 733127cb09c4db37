import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive, parseWorkFileName, removeFile } from '@imgcache/core';

/** Removes temporary links and probe files of processes that died before cleaning up. */
export async function sweepLeftovers(root: string, indexDir: string): Promise<void> {
  for (const name of await readdir(indexDir)) {
    const owner = parseWorkFileName(name);
    if (owner && !isProcessAlive(owner.pid)) await removeFile(join(indexDir, name));
  }
  for (const name of await readdir(root)) {
    const match = /^\.imgcache-xattr-probe-(\d+)-[0-9a-f]+$/.exec(name);
    if (match && !isProcessAlive(Number(match[1]))) await removeFile(join(root, name));
  }
}
