import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidImageId } from './image-id.js';
import { errnoCode, removeFile } from './io/fs-errors.js';
import type { CacheLayout } from './layout.js';

/**
 * The prefetch queue: one empty marker file per image in `queue/`, oldest first by mtime
 * (then id). Files are the queue so that a CLI and a server on one directory share it and
 * it survives restarts.
 */
export class PrefetchQueue {
  constructor(private readonly layout: CacheLayout) {}

  async has(imageId: string): Promise<boolean> {
    try {
      await stat(this.layout.queuePath(imageId));
      return true;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** Adds a marker; false when one was already there. */
  async add(imageId: string): Promise<boolean> {
    try {
      const handle = await open(this.layout.queuePath(imageId), 'wx');
      await handle.close();
      return true;
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return false;
      throw error;
    }
  }

  /** Queued ids, oldest first. */
  async list(): Promise<string[]> {
    const names = (await readdir(this.layout.queueDir)).filter(isValidImageId);
    const stamped = await Promise.all(
      names.map(async (name) => {
        const info = await stat(join(this.layout.queueDir, name)).catch(() => null);
        return info ? { name, mtime: info.mtimeMs } : null;
      }),
    );
    return stamped
      .filter((item): item is { name: string; mtime: number } => item !== null)
      .sort((a, b) => a.mtime - b.mtime || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((item) => item.name);
  }

  /** Removes a marker; false when there was none. */
  async remove(imageId: string): Promise<boolean> {
    return removeFile(this.layout.queuePath(imageId));
  }

  /** Removes every marker; returns how many. */
  async clear(): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.layout.queueDir)) {
      if (isValidImageId(name) && (await removeFile(join(this.layout.queueDir, name)))) removed++;
    }
    return removed;
  }
}
