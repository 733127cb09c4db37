import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageCache, silentLogger } from '@imgcache/core';
// @ts-expect-error plain JS fixture shared with the child processes
import { sha256, smallImageBytes } from './fixtures/images.mjs';
import { bytesIn, fixture, tempDir } from './helpers.js';

/**
 * Maintenance in one process never disturbs writers in others. Two writer processes cache
 * small images (overlapping ids) while two maintenance processes run operations in a loop
 * on the same directory; afterwards every image a writer reported cached is cached and
 * intact (or, where an operation evicts, cleanly gone), and nothing is left to repair.
 */
const OPERATIONS = ['verify', 'clean', 'reconcile', 'prune', 'deleteAll', 'import'] as const;
const EVICTING = new Set(['prune', 'deleteAll']);
const IMAGES_PER_WRITER = Number(process.env.IMGCACHE_MAINTENANCE_IMAGES ?? 100);
const WRITERS = [0, IMAGES_PER_WRITER / 2];
const ALL_IDS = Array.from({ length: IMAGES_PER_WRITER * 1.5 }, (_, n) => `mp-${n}`);
const PAIRS = OPERATIONS.flatMap((first, index) =>
  OPERATIONS.slice(index + 1).map((second) => [first, second] as const),
);

interface WriterReport {
  cached: string[];
  refused: string[];
  errors: { imageId: string; code?: string; message: string }[];
  repairedAtOpen: unknown[];
  warnings: string[];
}

interface MaintainerReport {
  op: string;
  runs: number;
  problems: unknown[];
}

/** Runs a fixture to its end; resolves with its parsed stdout when it exits 0. */
function runFixture<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.stdout.on('data', (data) => (out += data));
    child.stderr.on('data', (data) => (err += data));
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (code === 0) resolve(JSON.parse(out) as T);
      else reject(new Error(`${script} ${args.join(' ')} ended with ${code ?? signal}: ${err}`));
    });
  });
}

/** A Glance cache directory holding every id the writers cache, with the same bytes. */
async function glanceCache(root: string): Promise<string> {
  const dir = join(root, 'glance');
  await mkdir(join(dir, 'queue'), { recursive: true });
  const db = new Database(join(dir, 'cache.db'));
  db.exec(
    'CREATE TABLE cached_images (image_id TEXT PRIMARY KEY, last_accessed REAL, last_modified REAL, size INTEGER, hits INTEGER, checksum TEXT)',
  );
  const insert = db.prepare('INSERT INTO cached_images VALUES (?, 0, 0, ?, 0, NULL)');
  for (const imageId of ALL_IDS) {
    const data = smallImageBytes(imageId) as Buffer;
    insert.run(imageId, data.length);
    await writeFile(join(dir, imageId), data);
  }
  db.close();
  return dir;
}

describe.each(['sqlite', 'xattr'])('maintenance beside live writers in other processes: %s driver', (driver) => {
  it.each(PAIRS)('%s and %s, each looping in its own process', async (first, second) => {
    const { dir: root, dispose } = await tempDir(`maint-${driver}`);
    const dir = join(root, 'cache');
    const stop = join(root, 'stop');
    try {
      const glance = await glanceCache(root);
      // The cache exists before anyone races to create it.
      await (
        await ImageCache.open({ dir, driver, fallback: false, logger: silentLogger, importer: (s) => import(s) })
      ).close();
      const maintainers = [first, second].map((op) =>
        runFixture<MaintainerReport>('maintainer.mjs', [dir, driver, op, stop, glance]),
      );
      const writers = await Promise.all(
        WRITERS.map((start) =>
          runFixture<WriterReport>('writer.mjs', [dir, driver, String(start), String(IMAGES_PER_WRITER)]),
        ),
      );
      await writeFile(stop, '');
      const maintained = await Promise.all(maintainers);

      // Nothing was wrong, so no operation may have found anything wrong. Clean with stall
      // time 0 reaps running writes by definition: such a write fails (ENOENT when it
      // commits), it never reports success.
      const cleaning = first === 'clean' || second === 'clean';
      const reaped = (error: { code?: string; error?: string }) =>
        cleaning && (error.code === 'ENOENT' || /^ENOENT:/.test(error.error ?? ''));
      for (const report of maintained) {
        expect(report.runs, report.op).toBeGreaterThan(0);
        expect(
          report.problems.filter((problem) => !(report.op === 'import' && reaped(problem as { error?: string }))),
          report.op,
        ).toEqual([]);
      }
      for (const writer of writers) {
        expect(writer.repairedAtOpen).toEqual([]);
        expect(writer.errors.filter((error) => !reaped(error))).toEqual([]);
        expect(writer.cached.length + writer.refused.length + writer.errors.length).toBe(IMAGES_PER_WRITER);
      }

      const cache = await ImageCache.open({
        dir,
        driver,
        fallback: false,
        logger: silentLogger,
        importer: (s) => import(s),
      });
      try {
        expect(cache.reconcileReport.repairs).toEqual([]);
        expect(await readdir(cache.layout.incompleteDir)).toEqual([]);
        const listed = await cache.getCachedImages();
        expect((await readdir(cache.layout.imagesDir)).sort()).toEqual(listed.map((image) => image.imageId).sort());
        expect(await cache.getCacheSize()).toBe(await bytesIn(cache.layout.imagesDir));
        const byId = new Map(listed.map((image) => [image.imageId, image]));
        const evicting = EVICTING.has(first) || EVICTING.has(second);
        const reported = writers.flatMap((writer) => writer.cached);
        for (const imageId of reported) {
          const image = byId.get(imageId);
          if (!image && evicting) continue;
          expect(image, `${imageId} was reported cached`).toBeDefined();
          const data = smallImageBytes(imageId) as Buffer;
          expect(image!.checksum).toBe(sha256(data));
          expect(sha256(await readFile(cache.layout.imagePath(imageId)))).toBe(sha256(data));
        }
        expect(await cache.verify()).toMatchObject({ failed: [] });
        if (!evicting) expect(reported.length).toBeGreaterThan(0);
        console.log(
          `${driver}, ${first} + ${second}: ${maintained.map((report) => `${report.op} ${report.runs} runs`).join(', ')}; ` +
            `${reported.length} reported cached, ${listed.length} cached at the end, ` +
            `${writers.reduce((sum, writer) => sum + writer.refused.length, 0)} refused, ${writers.reduce((sum, writer) => sum + writer.errors.length, 0)} failed`,
        );
      } finally {
        await cache.close();
      }
    } finally {
      await writeFile(stop, '').catch(() => undefined);
      await dispose();
    }
  });
});
