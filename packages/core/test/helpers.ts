import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { ImageCache, silentLogger, type DriverFactory, type ImageCacheOptions, type Logger } from '../src/index.js';
import { createMemoryDriver } from '../src/testing/index.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** A fresh directory removed after the test. */
export async function tempDir(prefix = 'imgcache-core-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a cache (memory driver unless another is given) in a fresh directory, closed after the test. */
export async function openCache(options: Partial<ImageCacheOptions> = {}): Promise<ImageCache> {
  const dir = options.dir ?? (await tempDir());
  const cache = await ImageCache.open({ driver: createMemoryDriver(), logger: silentLogger, ...options, dir });
  cleanups.push(() => cache.close());
  return cache;
}

export function bytes(size: number, seed = 1): Buffer {
  if (seed === 0) return randomBytes(size);
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 31 + seed * 7) & 0xff;
  return buffer;
}

export function digest(algorithm: 'md5' | 'sha256' | 'sha512', data: Uint8Array): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Yields `data` in chunks, optionally pausing between them. */
export async function* chunked(data: Buffer, size = 64 * 1024, pauseMs = 0): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) {
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    yield data.subarray(offset, offset + size);
  }
}

/** Yields some chunks, then fails like a dropped origin connection. */
export async function* failingAfter(data: Buffer, chunks: number, size = 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < chunks; i++) yield data.subarray(i * size, (i + 1) * size);
  throw new Error('origin connection reset');
}

export async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of iterable) parts.push(chunk);
  return Buffer.concat(parts);
}

export async function listDir(path: string): Promise<string[]> {
  return (await readdir(path)).sort();
}

/** Sum of the sizes of the files in a directory. */
export async function bytesIn(path: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

/** A logger that records what it was told. */
export function capturingLogger(): Logger & { lines: { level: string; text: string }[] } {
  const lines: { level: string; text: string }[] = [];
  const record = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, text: `${msg ?? ''} ${typeof obj === 'string' ? obj : JSON.stringify(obj)}` });
  };
  return { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
}

export const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * A memory driver whose metadata commit waits until `release` is called (the xattr driver
 * writes several files there): `reached` resolves when a commit starts waiting.
 */
export function gatedCommit(): { factory: DriverFactory; reached: Promise<void>; release: () => void } {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const memory = createMemoryDriver();
  const factory: DriverFactory = async (context) => {
    const driver = await memory(context);
    const commit = driver.commit.bind(driver);
    driver.commit = async (entry) => {
      reach();
      await released;
      return commit(entry);
    };
    return driver;
  };
  return { factory, reached, release };
}
