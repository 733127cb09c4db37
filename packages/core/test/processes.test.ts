import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '../src/index.js';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/content.mjs';
import { bytesIn, collect, tempDir } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Runs a fixture; resolves with its stdout when it exits 0. */
function run(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (data) => (out += data));
    child.stderr.on('data', (data) => (err += data));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}: ${err}`))));
  });
}

/** Starts the crash writer and SIGKILLs it once it has written `afterChunks` chunks. */
function killMidWrite(dir: string, imageId: string, size: number, afterChunks: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture('crash-writer.mjs'), dir, imageId, String(size)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (data) => (err += data));
    child.stdout.on('data', (data) => {
      out += data;
      if (out.includes(`chunk ${afterChunks}\n`)) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(out);
      else reject(new Error(`writer was not killed (exit ${code}): ${err}`));
    });
  });
}

describe('across processes (real SQLite)', () => {
  it('a writer killed with SIGKILL mid-write leaves nothing partial, and the image caches again at once', async () => {
    const dir = await tempDir();
    const size = 8 * 1024 * 1024;
    for (const afterChunks of [0, 7, 60]) {
      await killMidWrite(dir, 'victim', size, afterChunks);
      const cache = await ImageCache.open({ dir, logger: silentLogger });
      try {
        expect(cache.reconcileReport.abandonedWrites).toBe(1);
        expect(await cache.isCached('victim')).toBe(false);
        expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
        expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
        const data = imageBytes('victim', size) as Buffer;
        expect(await cache.cacheImageIter('victim', [data], sha256(data))).toBe(true);
        expect(sha256(await collect(await cache.openForRead('victim')))).toBe(sha256(data));
        expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
        await cache.deleteCachedImage('victim');
        expect(await cache.clean(0)).toMatchObject({ invalid: 1 });
      } finally {
        await cache.close();
      }
    }
  });

  it('two processes on one cache directory at the same time', async () => {
    const dir = await tempDir();
    const outputs = await Promise.all([
      run('shared-worker.mjs', [dir, 'one', '12']),
      run('shared-worker.mjs', [dir, 'two', '12']),
    ]);
    const stats = outputs.map((out) => JSON.parse(out) as { cached: number; read: number });
    expect(stats.every((s) => s.cached > 0 && s.read > 0)).toBe(true);
    const cache = await ImageCache.open({ dir, logger: silentLogger });
    try {
      expect(cache.reconcileReport).toEqual({
        abandonedWrites: 0,
        droppedEntries: 0,
        adoptedFiles: 0,
        quarantinedFiles: 0,
        repairs: [],
      });
      expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
      expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
      expect((await cache.verify()).failed).toEqual([]);
      for (const image of await cache.getCachedImages()) {
        expect(image.checksum).toBe(sha256(imageBytes(image.imageId, image.size)));
      }
    } finally {
      await cache.close();
    }
  });
});
