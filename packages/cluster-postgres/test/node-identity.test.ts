import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NODE_ID_FILE, loadNodeId } from '../src/node-identity.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgcache-node-id-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadNodeId', () => {
  it('generates an id once, stores it in the cache directory and returns it ever after', async () => {
    const first = await loadNodeId(dir);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect((await readFile(join(dir, NODE_ID_FILE), 'utf8')).trim()).toBe(first);
    expect(await loadNodeId(dir)).toBe(first);
  });

  it('refuses a file that holds something else than an id', async () => {
    await writeFile(join(dir, NODE_ID_FILE), '../../etc\n');
    await expect(loadNodeId(dir)).rejects.toMatchObject({ code: 'ERR_IMGCACHE_CLUSTER_NODE_ID' });
  });
});
