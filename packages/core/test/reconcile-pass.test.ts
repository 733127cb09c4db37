// Unit tests of the reconcile pass itself (src/reconcile.ts), called directly on a real
// directory with the memory driver: the races with other processes, the order of its
// changes when the driver fails, and what it leaves alone. reconcile.test.ts covers it
// through ImageCache.open.
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CacheLayout } from '../src/layout.js';
import { parseQuarantineName, workFileName } from '../src/names.js';
import { reconcile } from '../src/reconcile.js';
import type { CacheEntry, Driver } from '../src/driver.js';
import { MemoryDriver } from '../src/testing/index.js';
import { bytes, capturingLogger, listDir, tempDir } from './helpers.js';

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

async function setup() {
  const layout = new CacheLayout(await tempDir('imgcache-reconcile-'));
  for (const directory of layout.directories) await mkdir(directory, { recursive: true });
  const driver = new MemoryDriver(new Map());
  const logger = capturingLogger();
  const run = (using: Driver = driver) => reconcile(layout, using, 'sha256', logger);
  return { layout, driver, logger, run };
}

/** An entry as core commits it, with a file of `size` bytes in images/. */
async function committed(layout: CacheLayout, driver: Driver, imageId: string, size: number): Promise<void> {
  await writeFile(layout.imagePath(imageId), bytes(size));
  await driver.commit({ imageId, size, checksum: 'sha256:00', lastModified: 1_000 });
}

/** The memory driver, whose list() answers from a snapshot taken earlier: a listing that another process's change has since overtaken. */
function withStaleList(driver: MemoryDriver, stale: CacheEntry[]): Driver {
  return Object.assign(Object.create(driver) as MemoryDriver, {
    list: async () => stale.map((entry) => ({ ...entry })),
  });
}

describe('reconcile, called directly', () => {
  it('adopts a file without metadata under the given algorithm, with its real size and digest', async () => {
    const { layout, driver, run } = await setup();
    const data = bytes(3000, 5);
    await writeFile(layout.imagePath('unrecorded'), data);
    const report = await run();
    expect(report).toMatchObject({ adoptedFiles: 1, abandonedWrites: 0, droppedEntries: 0, quarantinedFiles: 0 });
    expect(await driver.get('unrecorded')).toMatchObject({
      size: 3000,
      hits: 0,
      checksum: `sha256:${createHash('sha256').update(data).digest('hex')}`,
    });
  });

  it('does not adopt a file whose entry another process committed after the listing was read', async () => {
    const { layout, driver, run } = await setup();
    await committed(layout, driver, 'fresh', 100);
    const report = await run(withStaleList(driver, []));
    expect(report.repairs).toEqual([]);
    expect(await driver.get('fresh')).toMatchObject({ checksum: 'sha256:00', lastModified: 1_000 });
  });

  it('does not report a drop for an entry another process removed after the listing was read', async () => {
    const { layout, driver, run } = await setup();
    await committed(layout, driver, 'gone', 100);
    const stale = await driver.list();
    // Another process deletes the image: file first, entry next.
    await unlink(layout.imagePath('gone'));
    await driver.remove(['gone']);
    const report = await run(withStaleList(driver, stale));
    expect(report.repairs).toEqual([]);
  });

  it('moves a resized file aside before dropping its entry, so a failing driver leaves only an entry without a file', async () => {
    const { layout, driver, run } = await setup();
    await committed(layout, driver, 'resized', 4096);
    await writeFile(layout.imagePath('resized'), bytes(10));
    const failing = Object.assign(Object.create(driver) as MemoryDriver, {
      remove: async () => {
        throw new Error('metadata store unavailable');
      },
    });
    await expect(run(failing)).rejects.toThrow('metadata store unavailable');
    // The altered file is never left where it could be served or adopted.
    expect(await listDir(layout.imagesDir)).toEqual([]);
    expect((await readdir(layout.invalidDir)).map(parseQuarantineName)).toEqual([{ key: 'resized', cause: 'resized' }]);
    expect(await driver.get('resized')).not.toBeNull();
    // The next pass, with a working driver, drops the entry whose file is gone.
    const report = await run();
    expect(report.repairs).toEqual([
      expect.objectContaining({ action: 'dropped', imageId: 'resized', cause: 'missing' }),
    ]);
    expect(await driver.list()).toEqual([]);
  });

  it('leaves an image held by a live claim of another process alone, whatever its state', async () => {
    const { layout, driver, run } = await setup();
    // The parent of this test process is alive and is not this process.
    const live = process.ppid;
    await writeFile(layout.imagePath('unrecorded'), bytes(10));
    await driver.commit({ imageId: 'missing', size: 5, checksum: 'sha256:00', lastModified: 1 });
    const claims = [
      workFileName('unrecorded', live, undefined, true),
      workFileName('missing', live, undefined, true),
      workFileName('writing', live),
    ];
    for (const name of claims) await writeFile(join(layout.incompleteDir, name), '');
    const report = await run();
    expect(report.repairs).toEqual([]);
    expect(await driver.get('unrecorded')).toBeNull();
    expect(await driver.get('missing')).not.toBeNull();
    expect(await listDir(layout.incompleteDir)).toEqual([...claims].sort());
  });

  it("reaps a dead process's lock silently and its work file as an abandoned write", async () => {
    const { layout, run } = await setup();
    const pid = deadPid();
    await writeFile(join(layout.incompleteDir, workFileName('img', pid, undefined, true)), '');
    await writeFile(join(layout.incompleteDir, workFileName('other', pid)), bytes(50));
    const report = await run();
    expect(report.repairs).toEqual([
      expect.objectContaining({ action: 'quarantined', imageId: 'other', cause: 'abandoned' }),
    ]);
    expect(report.abandonedWrites).toBe(1);
    expect(report.quarantinedFiles).toBe(0);
    expect(await listDir(layout.incompleteDir)).toEqual([]);
  });

  it("moves a dead writer's half-written file aside and keeps the committed copy of the same image it was replacing", async () => {
    const { layout, driver, run } = await setup();
    await committed(layout, driver, 'img', 100);
    const half = workFileName('img', deadPid());
    await writeFile(join(layout.incompleteDir, half), bytes(37));
    const report = await run();
    expect(report.repairs).toEqual([
      expect.objectContaining({ action: 'quarantined', imageId: 'img', cause: 'abandoned' }),
    ]);
    expect(await driver.get('img')).toMatchObject({ size: 100, checksum: 'sha256:00' });
    expect((await stat(layout.imagePath('img'))).size).toBe(100);
    expect(await listDir(layout.incompleteDir)).toEqual([]);
    expect((await readdir(layout.invalidDir)).map((name) => parseQuarantineName(name))).toEqual([
      expect.objectContaining({ cause: 'abandoned' }),
    ]);
  });

  it('moves foreign files out of incomplete/ and images/, and ignores what is not a regular file', async () => {
    const { layout, driver, logger, run } = await setup();
    await writeFile(join(layout.incompleteDir, 'editor.swp'), 'x');
    await writeFile(join(layout.imagesDir, 'not an id'), 'x');
    await mkdir(join(layout.imagesDir, 'subdir'));
    const report = await run();
    expect(report.quarantinedFiles).toBe(2);
    expect(report.repairs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'quarantined', imageId: 'editor.swp', cause: 'foreign' }),
        expect.objectContaining({ action: 'quarantined', imageId: 'not an id', cause: 'foreign' }),
      ]),
    );
    expect((await readdir(layout.invalidDir)).map((name) => parseQuarantineName(name)?.cause)).toEqual([
      'foreign',
      'foreign',
    ]);
    // A directory with an id's name is neither adopted nor moved: only warned about.
    expect(await listDir(layout.imagesDir)).toEqual(['subdir']);
    expect(await driver.get('subdir')).toBeNull();
    expect(logger.lines.some((line) => line.level === 'warn' && line.text.includes('not a regular file'))).toBe(true);
  });

  it('removes queue markers of cached images only', async () => {
    const { layout, driver, run } = await setup();
    await committed(layout, driver, 'cached', 10);
    await writeFile(layout.queuePath('cached'), '');
    await writeFile(layout.queuePath('waiting'), '');
    await run();
    expect(await listDir(layout.queueDir)).toEqual(['waiting']);
  });

  it('logs the first 50 repairs one by one, then one summary line, and reports all of them', async () => {
    const { layout, logger, run } = await setup();
    for (let n = 0; n < 60; n++) await writeFile(layout.imagePath(`orphan-${n}`), bytes(1));
    const report = await run();
    expect(report.adoptedFiles).toBe(60);
    const warnings = logger.lines.filter((line) => line.level === 'warn').map((line) => line.text);
    expect(warnings).toHaveLength(51);
    expect(warnings[50]).toMatch(/^startup reconcile: 10 more repairs not logged one by one/);
    expect((await stat(layout.imagePath('orphan-59'))).size).toBe(1);
  });
});
