import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, runInTerminal, type Sandbox } from '../helpers/run-cli.js';
import { makeFifo, makeNullDevice, mountScratch } from '../helpers/special-files.js';

let sandbox: Sandbox;
let out: string;
const image = randomBytes(2 * 1024 * 1024 + 5);

beforeEach(async () => {
  sandbox = await createSandbox();
  out = join(sandbox.root, 'out');
  await mkdir(out);
  const cached = await sandbox.run(['cache-image', 'img-1', '-'], { input: image });
  expect(cached.code, cached.stderr).toBe(0);
});
afterEach(async () => {
  await sandbox.cleanup();
});

/** Runs `cat path` and collects what it reads; killed after 20 s so a reader nobody writes to cannot hang the suite. */
function readWithCat(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('cat', [path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

describe('get -o writes into what is there without destroying it', () => {
  it('writes a character device in place: it stays a device', async (context) => {
    const device = join(out, 'null');
    const failure = await makeNullDevice(device);
    if (failure) return context.skip(failure.skipReason);
    const before = await lstat(device);

    const result = await sandbox.run(['get', 'img-1', '-o', device]);
    expect(result, result.stderr).toMatchObject({ code: 0, stdout: `Wrote image img-1 (2 MiB) to ${device}.\n` });
    const after = await lstat(device);
    expect(after.isCharacterDevice()).toBe(true);
    expect({ rdev: after.rdev, ino: after.ino, mode: after.mode }).toEqual({
      rdev: before.rdev,
      ino: before.ino,
      mode: before.mode,
    });
    expect(await readdir(out)).toEqual(['null']);
  });

  it('writes a FIFO in place while a reader drains it', async () => {
    const fifo = join(out, 'pipe');
    await makeFifo(fifo);
    const reading = readWithCat(fifo);
    const result = await sandbox.run(['get', 'img-1', '-o', fifo]);
    expect(result.code, result.stderr).toBe(0);
    expect((await reading).equals(image)).toBe(true);
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect(await readdir(out)).toEqual(['pipe']);
  });

  it('writes through a symlink to a FIFO without replacing the link', async () => {
    const fifo = join(out, 'pipe');
    await makeFifo(fifo);
    const link = join(out, 'link');
    await symlink('pipe', link);
    const reading = readWithCat(fifo);
    const result = await sandbox.run(['get', 'img-1', '-o', link]);
    expect(result.code, result.stderr).toBe(0);
    expect((await reading).equals(image)).toBe(true);
    expect(await readlink(link)).toBe('pipe');
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect((await readdir(out)).sort()).toEqual(['link', 'pipe']);
  });

  it('refuses a socket behind a link (/proc/self/fd/1 of a process whose stdout is a socket) with a clear error', async () => {
    // The test helper gives the CLI socketpair stdio, as Node does for piped children.
    const link = join(out, 'stdout');
    await symlink('/proc/self/fd/1', link);
    const result = await sandbox.runBin(['get', 'img-1', '-o', link]);
    expect(result).toMatchObject({
      code: 2,
      stderr: `imgcache: error: ${link} is a socket, which cannot be opened by name; write to stdout (-o -) and redirect it.\n`,
    });
    expect(await readlink(link)).toBe('/proc/self/fd/1');
  });

  it('refuses a terminal reached through a link (exit 2), leaving the link', async () => {
    const link = join(out, 'tty');
    await symlink('/dev/tty', link);
    // No prompt comes: the run ends on its own, and its transcript is the terminal's output.
    const result = await runInTerminal(['get', 'img-1', '-o', link], sandbox.env, 'no prompt', '');
    expect(result.code).toBe(2);
    expect(result.output).toContain(`imgcache: error: Refusing to write image bytes to the terminal ${link}.`);
    expect(await readlink(link)).toBe('/dev/tty');
    expect(await readdir(out)).toEqual(['tty']);
  });

  it('follows a symlink to a regular file: the link stays a link, the file gets the image and keeps its mode', async () => {
    const files = join(sandbox.root, 'files');
    await mkdir(files);
    const real = join(files, 'real.raw');
    await writeFile(real, 'old contents');
    await chmod(real, 0o640);
    const link = join(out, 'link.raw');
    await symlink('../files/real.raw', link);

    const result = await sandbox.run(['get', 'img-1', '-o', link]);
    expect(result.code, result.stderr).toBe(0);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('../files/real.raw');
    expect((await readFile(real)).equals(image)).toBe(true);
    expect((await stat(real)).mode & 0o777).toBe(0o640);
    expect(await readdir(out)).toEqual(['link.raw']);
    expect(await readdir(files)).toEqual(['real.raw']);
  });

  it('follows a dangling symlink: the file it names is created, the link stays', async () => {
    const link = join(out, 'dangling.raw');
    await symlink('created.raw', link);
    const result = await sandbox.run(['get', 'img-1', '-o', link]);
    expect(result.code, result.stderr).toBe(0);
    expect(await readlink(link)).toBe('created.raw');
    expect((await readFile(join(out, 'created.raw'))).equals(image)).toBe(true);
    expect((await readdir(out)).sort()).toEqual(['created.raw', 'dangling.raw']);
  });

  it('replaces a regular file whole, keeping its permission bits', async () => {
    const file = join(out, 'image.raw');
    await writeFile(file, 'old contents');
    await chmod(file, 0o600);
    const result = await sandbox.run(['get', 'img-1', '-o', file]);
    expect(result.code, result.stderr).toBe(0);
    expect((await readFile(file)).equals(image)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(out)).toEqual(['image.raw']);
  });

  it('creates a missing file', async () => {
    const file = join(out, 'new.raw');
    const result = await sandbox.run(['get', 'img-1', '-o', file]);
    expect(result.code, result.stderr).toBe(0);
    expect((await readFile(file)).equals(image)).toBe(true);
    expect(await readdir(out)).toEqual(['new.raw']);
  });

  it('refuses a directory (exit 2) before reading the image', async () => {
    const result = await sandbox.run(['get', 'img-1', '-o', out]);
    expect(result).toMatchObject({
      code: 2,
      stderr: `imgcache: error: ${out} is a directory; name a file to write.\n`,
    });
    expect(await readdir(out)).toEqual([]);
    expect((await sandbox.json(['list-cached'])).cachedImages[0]).toMatchObject({ imageId: 'img-1', hits: 0 });
  });

  it('a download that fails (full disk) leaves the old file, or no file, and no partial file', async (context) => {
    const mount = await mountScratch('tmpfs', '1m');
    if ('skipReason' in mount) return context.skip(mount.skipReason);
    try {
      const kept = join(mount.dir, 'kept.raw');
      await writeFile(kept, 'old contents');

      const over = await sandbox.run(['get', 'img-1', '-o', kept]);
      expect(over.code).toBe(1);
      expect(over.stderr).toMatch(/^imgcache: error: ENOSPC/);
      expect(await readFile(kept, 'utf8')).toBe('old contents');

      const fresh = await sandbox.run(['get', 'img-1', '-o', join(mount.dir, 'fresh.raw')]);
      expect(fresh.code).toBe(1);
      expect(await readdir(mount.dir)).toEqual(['kept.raw']);
    } finally {
      await mount.unmount();
    }
  });
});
