import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeOrigin, type FakeOriginOptions } from '@imgcache/test-origin';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes } from './fixtures/images.mjs';

export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/**
 * The fake Glance origin serving the fixture's deterministic bytes (`imageBytes(id)`) for
 * every image id, which the child processes can recompute; metadata carries their md5 and
 * sha512. Options as {@link FakeOrigin}'s (throttling, ranges).
 */
export function fixtureOrigin(options: Omit<FakeOriginOptions, 'imageFor'> = {}): FakeOrigin {
  return new FakeOrigin({ ...options, imageFor: (imageId) => ({ data: imageBytes(imageId) as Buffer }) });
}

export async function tempDir(prefix: string): Promise<{ dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `imgcache-reliability-${prefix}-`));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export async function bytesIn(path: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

/** Starts a fixture and SIGKILLs it `delayMs` after it prints "ready". Resolves when it is dead. */
export function killAfterReady(script: string, args: string[], delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let armed = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (data) => (err += data));
    child.stdout.on('data', (data: Buffer) => {
      if (!armed && data.toString().includes('ready')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL' && armed) resolve();
      else reject(new Error(`${script} ended before it was killed (code ${code}, signal ${signal}): ${err}`));
    });
  });
}

export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Runs a fixture that is expected to kill itself with SIGKILL; resolves once it has. */
export function runUntilKilled(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const guard = setTimeout(() => child.kill('SIGTERM'), 30_000);
    child.stdout.on('data', (data) => (output += data));
    child.stderr.on('data', (data) => (output += data));
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`${script} ${args.join(' ')} was not killed (code ${code}, signal ${signal}): ${output}`));
    });
  });
}
