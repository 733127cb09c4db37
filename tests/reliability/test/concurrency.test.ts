import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { imageBytes, sha256 } from './fixtures/images.mjs';
import { bytesIn, fixtureOrigin, seededRandom, tempDir } from './helpers.js';
import { cliBin, download, startServerProcess } from './server-process.js';

const CLIENTS = 20;
const REQUESTS_PER_CLIENT = 40;
const CLI_LOOPS = 3;
const MAX_CLI_RUNS_PER_LOOP = 40;
// Six images between 64 KiB and about 2 MiB (their sizes follow from their ids).
const IDS = ['conc-0', 'conc-1', 'conc-2', 'conc-3', 'conc-4', 'conc-5'];
const expected = new Map(IDS.map((id) => [id, sha256(imageBytes(id)) as string]));

interface CliRun {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(dir: string, args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBin, '--dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ args, code, stdout, stderr });
    });
  });
}

describe('one server and CLI processes on the same cache directory at once', () => {
  it('every body is exact, no run fails or reports SQLITE_BUSY, and the final accounting is exact', async () => {
    const { dir: parent, dispose } = await tempDir('concurrency');
    const dir = join(parent, 'cache');
    const origin = await fixtureOrigin({ chunkSize: 64 * 1024, chunkDelayMs: 2 }).start();
    const server = await startServerProcess([
      '--origin',
      origin.url,
      '--dir',
      dir,
      '--driver',
      'sqlite',
      '--public',
      '--max-size',
      '6M',
      '--maintenance-interval',
      '1',
    ]);
    const dispatcher = new Agent({ connections: CLIENTS });
    const statuses = new Map<number, number>();
    const xCache = new Map<string, number>();
    const cliRuns: CliRun[] = [];
    let clientsDone = false;
    try {
      const client = async (seed: number) => {
        const random = seededRandom(seed);
        for (let n = 0; n < REQUESTS_PER_CLIENT; n++) {
          const id = IDS[Math.floor(random() * IDS.length)]!;
          const result = await download(`${server.url}/v2/images/${id}/file`, { dispatcher });
          statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
          const source = String(result.headers['x-cache']);
          xCache.set(source, (xCache.get(source) ?? 0) + 1);
          expect(result.status, `${id}: ${result.body ?? ''}`).toBe(200);
          expect(result.sha256, `${id} (${source})`).toBe(expected.get(id));
        }
      };
      const cliLoop = async (seed: number) => {
        const random = seededRandom(seed);
        for (let n = 0; n < MAX_CLI_RUNS_PER_LOOP && !clientsDone; n++) {
          const id = IDS[Math.floor(random() * IDS.length)]!;
          const commands = [
            ['delete-cached-image', id],
            ['--max-size', '2M', 'prune'],
            ['clean'],
            ['list-cached', '--json'],
          ];
          const run = await runCli(dir, commands[n % commands.length]!);
          cliRuns.push(run);
          expect(run.stderr, run.args.join(' ')).not.toMatch(/SQLITE_BUSY|database is locked/i);
          expect(run.code, `${run.args.join(' ')}: ${run.stderr}`).toBe(0);
          if (run.args.includes('list-cached')) {
            const listed = JSON.parse(run.stdout) as unknown;
            expect(listed).toBeTypeOf('object');
          }
        }
      };
      const clients = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n + 1))).finally(
        () => (clientsDone = true),
      );
      const loops = Promise.all(Array.from({ length: CLI_LOOPS }, (_, n) => cliLoop(100 + n)));
      const outcomes = await Promise.allSettled([clients, loops]);
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;

      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      const cache = await ImageCache.open({
        dir,
        driver: 'sqlite',
        fallback: false,
        logger: silentLogger,
        importer: (s) => import(s),
      });
      try {
        expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
        expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
        const verified = await cache.verify();
        expect(verified.failed).toEqual([]);
        for (const image of await cache.getCachedImages())
          expect(image.size).toBe((imageBytes(image.imageId) as Buffer).length);
        console.log(
          `concurrency: ${CLIENTS * REQUESTS_PER_CLIENT} HTTP downloads verified (${[...xCache].map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
            `${cliRuns.length} CLI runs (delete, prune, clean, list) all exit 0, ${verified.checked} images verified at the end`,
        );
      } finally {
        await cache.close();
      }
      expect(cliRuns.length).toBeGreaterThanOrEqual(8);
    } finally {
      clientsDone = true;
      await dispatcher.destroy().catch(() => undefined);
      await server.stop('SIGKILL');
      await origin.stop();
      await dispose();
    }
  });
});
