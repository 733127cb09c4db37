import { open } from 'node:fs/promises';

/**
 * Flushes a directory's entries to disk. A rename is only durable once the directory that
 * received the new name is synced; without it a power loss can undo a committed rename.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
