import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, createSandbox, type Sandbox } from '../helpers/run-cli.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

const digest = (algorithm: string, bytes: Buffer) => createHash(algorithm).update(bytes).digest('hex');

describe('cache-image', () => {
  it('caches a file, recording the configured algorithm, and prints the result', async () => {
    const bytes = randomBytes(300_000);
    const file = join(sandbox.root, 'image.raw');
    await writeFile(file, bytes);
    const result = await sandbox.run(['cache-image', 'img-1', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Cached image img-1 (293 KiB, sha256:${digest('sha256', bytes)}).\n`);
    expect(await readFile(join(sandbox.dir, 'images', 'img-1'))).toEqual(bytes);

    const json = await sandbox.json(['--checksum-algorithm', 'sha512', 'cache-image', 'img-2', file]);
    expect(json).toEqual({
      imageId: 'img-2',
      cached: true,
      size: bytes.length,
      checksum: `sha512:${digest('sha512', bytes)}`,
    });
  });

  it.each([240, 255])('caches, reads, verifies and deletes an image whose id is %i characters long', async (length) => {
    const id = 'a'.repeat(length);
    const bytes = randomBytes(100_000);
    const file = join(sandbox.root, 'image.raw');
    await writeFile(file, bytes);
    const cached = await sandbox.run(['cache-image', id, file]);
    expect(cached.code, cached.stderr).toBe(0);
    expect((await sandbox.run(['get', id])).stdoutBytes.equals(bytes)).toBe(true);
    expect(await sandbox.json(['verify', id])).toMatchObject({ checked: 1, failed: [] });
    expect((await sandbox.run(['delete-cached-image', id])).code).toBe(0);
    expect(await readdir(join(sandbox.dir, 'images'))).toEqual([]);
  });

  it('caches from stdin with "-" and verifies a bare md5 --checksum', async () => {
    const bytes = randomBytes(200_000);
    const json = await sandbox.json(['cache-image', 'from-stdin', '-', '--checksum', digest('md5', bytes)], {
      input: bytes,
    });
    expect(json).toMatchObject({ imageId: 'from-stdin', cached: true, size: bytes.length });
    const got = await sandbox.run(['get', 'from-stdin']);
    expect(got.stdoutBytes.equals(bytes)).toBe(true);
  });

  it('caches nothing and exits 1 on a checksum mismatch', async () => {
    const result = await sandbox.run(['cache-image', 'bad', '-', '--checksum', `sha256:${'0'.repeat(64)}`], {
      input: 'some bytes',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^imgcache: error: Checksum verification failed for image bad: expected sha256:0{64}, got sha256:[0-9a-f]{64}\. The image was not cached\.\n$/,
    );
    expect(await sandbox.json(['list-cached'])).toEqual({ cachedImages: [] });
  });

  it('refuses a malformed --checksum as a usage error before reading anything', async () => {
    const result = await sandbox.run(['cache-image', 'x', '-', '--checksum', 'sha256:xyz'], { input: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Invalid checksum "sha256:xyz"/);
    await expect(access(sandbox.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 1 when the image is already cached, keeping the cached bytes', async () => {
    await sandbox.run(['cache-image', 'dup', '-'], { input: 'first' });
    const result = await sandbox.run(['cache-image', 'dup', '-'], { input: 'second' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Did not cache image dup: it is already cached (delete-cached-image it first to replace it).',
    );
    expect((await sandbox.run(['get', 'dup'])).stdout).toBe('first');
  });

  it('exits 1 with a clear message for a missing file', async () => {
    const result = await sandbox.run(['cache-image', 'x', join(sandbox.root, 'missing.raw')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^imgcache: error: ENOENT: no such file or directory/);
  });
});

describe('get', () => {
  it('streams to stdout, writes -o FILE, and counts a hit per complete read', async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 17);
    await sandbox.run(['cache-image', 'big', '-'], { input: bytes });
    const toStdout = await sandbox.run(['get', 'big', '-o', '-']);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdoutBytes.equals(bytes)).toBe(true);

    const target = join(sandbox.root, 'out.raw');
    const toFile = await sandbox.run(['get', 'big', '-o', target]);
    expect(toFile).toMatchObject({ code: 0, stdout: `Wrote image big (2 MiB) to ${target}.\n` });
    expect((await readFile(target)).equals(bytes)).toBe(true);
    expect(await sandbox.json(['get', 'big', '-o', join(sandbox.root, 'out2.raw')])).toEqual({
      imageId: 'big',
      size: bytes.length,
      output: join(sandbox.root, 'out2.raw'),
    });

    const { cachedImages } = await sandbox.json(['list-cached']);
    expect(cachedImages[0]).toMatchObject({ imageId: 'big', hits: 3 });
  });

  it('exits 1 for an image that is not cached and creates no output file', async () => {
    const target = join(sandbox.root, 'never.raw');
    const result = await sandbox.run(['get', 'absent', '-o', target]);
    expect(result).toMatchObject({ code: 1, stderr: 'imgcache: error: Image absent is not cached.\n' });
    expect(await readdir(sandbox.root)).not.toContain('never.raw');
  });
});

describe('cache-image interrupted', () => {
  /** Starts `cache-image interrupted -` with half an image on stdin, the pipe left open; resolves once its work file exists. */
  async function startWriting(): Promise<{ child: ReturnType<typeof spawn>; exit: Promise<number | null> }> {
    const child = spawn(process.execPath, [BIN, 'cache-image', 'interrupted', '-'], {
      env: { ...process.env, ...sandbox.env },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // The child may stop reading (interrupted, killed) before the pipe drains.
    child.stdin!.on('error', () => undefined);
    child.stdin!.write(randomBytes(256 * 1024));
    // Bounded wait for the write to begin: its work file (the claim) appears in incomplete/.
    for (let attempt = 0; attempt < 400; attempt++) {
      const names = await readdir(join(sandbox.dir, 'incomplete')).catch(() => []);
      if (names.length > 0) return { child, exit };
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    child.kill('SIGKILL');
    throw new Error('cache-image never started writing');
  }

  // Before: the claim and work file stayed behind, and the next start moved them to invalid/.
  it('on Ctrl-C (SIGINT) removes its work file and claim and exits 130', async () => {
    const { child, exit } = await startWriting();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr).toMatch(/interrupted/i);
    expect(await readdir(join(sandbox.dir, 'incomplete'))).toEqual([]);
    expect(await readdir(join(sandbox.dir, 'invalid'))).toEqual([]);
    expect(await sandbox.json(['list-cached'])).toEqual({ cachedImages: [] });
    // Nothing holds the image: it can be cached at once.
    expect((await sandbox.run(['cache-image', 'interrupted', '-'], { input: randomBytes(1000) })).code).toBe(0);
  });

  it('after SIGKILL the next start never serves the leftover, and the image can be cached again', async () => {
    const { child, exit } = await startWriting();
    child.kill('SIGKILL');
    await exit;
    expect((await readdir(join(sandbox.dir, 'incomplete'))).length).toBeGreaterThan(0);
    expect(await sandbox.json(['list-cached'])).toEqual({ cachedImages: [] });
    const bytes = randomBytes(1000);
    const again = await sandbox.run(['cache-image', 'interrupted', '-'], { input: bytes });
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(sandbox.dir, 'images', 'interrupted'))).toEqual(bytes);
  });
});
