import { randomUUID } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterError } from './errors.js';

/** The file in the cache directory that holds this node's id. */
export const NODE_ID_FILE = 'cluster-node-id';

const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * This node's stable id: read from `<dir>/cluster-node-id`, or generated (a UUID) and
 * stored there on first use. The id names the cache directory, not the address, so a node
 * restarted on a new address keeps its identity and its holdings.
 * @throws {ClusterError} `ERR_IMGCACHE_CLUSTER_NODE_ID` when the file holds something else
 * than an id (1–64 of `[A-Za-z0-9._-]`).
 */
export async function loadNodeId(dir: string): Promise<string> {
  const path = join(dir, NODE_ID_FILE);
  const existing = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (existing !== null) {
    const id = existing.trim();
    if (!NODE_ID.test(id))
      throw new ClusterError(
        'ERR_IMGCACHE_CLUSTER_NODE_ID',
        `${path} does not hold a node id; delete it to have a new one generated`,
      );
    return id;
  }
  const id = randomUUID();
  // Written whole then renamed, and synced, so a crash never leaves a half id behind.
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(`${id}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  return id;
}
