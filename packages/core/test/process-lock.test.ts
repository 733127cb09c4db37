import { spawn, type ChildProcess } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageCache, ImgcacheError, PROCESS_LOCK_FILE, silentLogger } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';
import { tempDir } from './helpers.js';

const HOLDER = fileURLToPath(new URL('./fixtures/single-process-holder.mjs', import.meta.url));

interface Holder {
  child: ChildProcess;
  /** The first line it printed: "open", or the refusal's code and message. */
  first: Promise<string>;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function hold(dir: string): Holder {
  const child = spawn(process.execPath, [HOLDER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  const first = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (data: Buffer) => {
      out += data;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code} before printing a line`)));
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, first, exit };
}

const openMemory = (dir: string) => ImageCache.open({ dir, driver: createMemoryDriver(), logger: silentLogger });

async function refusal(opening: Promise<ImageCache>): Promise<ImgcacheError> {
  const error = await opening.then(
    async (cache) => {
      await cache.close();
      throw new Error('the second opener was let in');
    },
    (caught: unknown) => caught,
  );
  expect(ImgcacheError.is(error, 'ERR_IMGCACHE_DIRECTORY_IN_USE')).toBe(true);
  return error as ImgcacheError;
}

describe('a single-process driver (capabilities.multiProcess false) holds its directory', () => {
  // Before: the second process opened the directory too, each with metadata of its own.
  it('refuses a second process while the first runs, naming it; lets one in after the first closes', async () => {
    const dir = await tempDir();
    const first = hold(dir);
    expect(await first.first).toBe('open');
    const lock = JSON.parse(await readFile(join(dir, PROCESS_LOCK_FILE), 'utf8'));
    expect(lock).toMatchObject({ pid: first.child.pid, driver: 'memory' });

    const second = hold(dir);
    expect(await second.first).toMatch(
      new RegExp(
        `^ERR_IMGCACHE_DIRECTORY_IN_USE Cache directory .* is in use by process ${first.child.pid} since .*, and driver memory serves one process only\\.`,
      ),
    );
    expect(await second.exit).toBe(1);
    expect((await refusal(openMemory(dir))).message).toContain(`process ${first.child.pid}`);

    first.child.stdin!.end();
    expect(await first.exit).toBe(0);
    await expect(access(join(dir, PROCESS_LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    const third = hold(dir);
    expect(await third.first).toBe('open');
    third.child.stdin!.end();
    expect(await third.exit).toBe(0);
  });

  it('takes over the lock of a process that died (SIGKILL) without closing', async () => {
    const dir = await tempDir();
    const killed = hold(dir);
    expect(await killed.first).toBe('open');
    killed.child.kill('SIGKILL');
    await killed.exit;
    const pid = JSON.parse(await readFile(join(dir, PROCESS_LOCK_FILE), 'utf8')).pid;
    expect(pid).toBe(killed.child.pid);
    const cache = await openMemory(dir);
    expect(JSON.parse(await readFile(join(dir, PROCESS_LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await cache.close();
  });

  it('refuses a second ImageCache of the same process, and takes over a lock left by an earlier process with this pid', async () => {
    const dir = await tempDir();
    const cache = await openMemory(dir);
    expect((await refusal(openMemory(dir))).message).toContain(
      `another open cache of this process (pid ${process.pid})`,
    );
    await cache.close();
    // A lock naming this pid that this process does not hold: left by a process before a pid reuse.
    await writeFile(
      join(dir, PROCESS_LOCK_FILE),
      JSON.stringify({ pid: process.pid, driver: 'memory', since: '2020-01-01T00:00:00.000Z' }),
    );
    const again = await openMemory(dir);
    await again.close();
    // A half-written lock (its writer died mid-write) is no owner either.
    await writeFile(join(dir, PROCESS_LOCK_FILE), '{"pid": 12');
    await (await openMemory(dir)).close();
  });

  it('takes no lock for a driver that several processes can share (sqlite)', async () => {
    const dir = await tempDir();
    const [one, two] = [
      await ImageCache.open({ dir, logger: silentLogger }),
      await ImageCache.open({ dir, logger: silentLogger }),
    ];
    await expect(access(join(dir, PROCESS_LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    await Promise.all([one.close(), two.close()]);
  });
});
