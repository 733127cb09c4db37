// Metadata-heavy operations per driver: per-image write and read cost, listing and prune
// at scale. Setup commits entries straight through the driver so it stays quick.
// Run alone: node bench/drivers.mjs [--driver sqlite|xattr] [--scale N]... [--ops N]
// (defaults: both drivers, 10k and 100k entries, 2000 operations; --ops 0 skips them).
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { ImageCache, silentLogger } from '../packages/core/dist/index.js';
import { createSqliteDriver } from '../packages/driver-sqlite/dist/index.js';
import { best, fmtMs, printTable, scratch, time } from './lib.mjs';
import { describe, target } from './targets.mjs';

const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });

async function loadDrivers() {
  /** @type {{name: string, factory: import('../packages/core/dist/index.js').DriverFactory<any>}[]} */
  const drivers = [{ name: 'sqlite', factory: createSqliteDriver() }];
  try {
    const xattr = await import('../packages/driver-xattr/dist/index.js');
    if (typeof xattr.default === 'function') drivers.push({ name: 'xattr', factory: xattr.default() });
  } catch (error) {
    console.log(`(xattr driver not built: ${error instanceof Error ? error.message : error})`);
  }
  return drivers;
}

/** Per-operation cost of caching and reading small (4 KiB) images. */
async function perOperation(driver, count) {
  const { dir, dispose } = await scratch(`ops-${driver.name}`);
  try {
    const cache = await ImageCache.open({ dir, driver: driver.factory, fallback: false, logger: silentLogger });
    const data = Buffer.alloc(4096, 7);
    const write = await time(async () => {
      for (let n = 0; n < count; n++) await cache.cacheImageIter(`op-${n}`, [data]);
    });
    const read = await time(async () => {
      for (let n = 0; n < count; n++) await pipeline(await cache.openForRead(`op-${n}`), sink());
    });
    await cache.close();
    return { write: write.ms / count, read: read.ms / count };
  } finally {
    await dispose();
  }
}

/** Listing and pruning half of `count` entries. */
async function atScale(driver, count) {
  const { dir, dispose } = await scratch(`scale-${driver.name}`);
  try {
    let cache = await ImageCache.open({ dir, driver: driver.factory, fallback: false, logger: silentLogger });
    const context = {
      root: cache.layout.root,
      imagesDir: cache.layout.imagesDir,
      imagePath: (id) => cache.layout.imagePath(id),
      nodeId: 'bench',
      logger: silentLogger,
    };
    await cache.close();
    const raw = await driver.factory(context);
    const base = Date.now() - count;
    for (let start = 0; start < count; start += 500) {
      const batch = [];
      for (let n = start; n < Math.min(count, start + 500); n++) batch.push(n);
      await Promise.all(batch.map((n) => writeFile(context.imagePath(`s-${n}`), 'x')));
      for (const n of batch)
        await raw.commit({ imageId: `s-${n}`, size: 1, checksum: 'sha256:00', lastModified: base + n });
    }
    await raw.close();
    cache = await ImageCache.open({
      dir,
      driver: driver.factory,
      fallback: false,
      logger: silentLogger,
      nodeId: 'bench',
      maxSize: count / 2,
    });
    const list = await best(3, () => cache.getCachedImages());
    const prune = await time(() => cache.prune());
    if (prune.result.files !== count / 2) throw new Error(`prune evicted ${prune.result.files}, expected ${count / 2}`);
    await cache.close();
    return { list, prune: prune.ms, perEviction: prune.ms / (count / 2) };
  } finally {
    await dispose();
  }
}

/**
 * Runs the driver benchmark and prints its tables.
 * @param {{scales?: number[], ops?: number, only?: string | null}} [options] entry counts for
 *   the at-scale rows, images per per-operation row (0: none), and one driver's name to run alone
 */
export async function driverBench({ scales = [10_000, 100_000], ops = 2000, only = null } = {}) {
  const drivers = (await loadDrivers()).filter((driver) => only === null || driver.name === only);
  const opRows = [];
  /** @type {{ops: number, perImage: object[], atScale: object[]}} */
  const figures = { ops, perImage: [], atScale: [] };
  for (const driver of ops > 0 ? drivers : []) {
    const { write, read } = await perOperation(driver, ops);
    figures.perImage.push({ driver: driver.name, writeMs: write, readMs: read });
    opRows.push([driver.name, fmtMs(write), fmtMs(read)]);
  }
  opRows.push(['(reference) Glance sqlite', '2.5 ms', '2.2 ms'], ['(reference) Glance xattr', '170 µs', '40 µs']);
  if (ops > 0)
    printTable(
      `Per image, 4 KiB images, ${ops} each (write = cacheImageIter incl. fsync; read = openForRead + hit)`,
      ['driver', 'write', 'read'],
      opRows,
    );

  const scaleRows = [];
  for (const driver of drivers) {
    for (const count of scales) {
      const { list, prune, perEviction } = await atScale(driver, count);
      figures.atScale.push({
        driver: driver.name,
        entries: count,
        listMs: list,
        pruneMs: prune,
        perEvictionMs: perEviction,
      });
      scaleRows.push([driver.name, count, fmtMs(list), fmtMs(prune), fmtMs(perEviction)]);
    }
  }
  scaleRows.push(
    ['(reference) Glance sqlite', 8000, '-', '15 s for 4000', '3.8 ms'],
    ['(reference) Glance xattr', 8000, '-', '270 s for 4000', '67 ms'],
  );
  const list = describe(target('sqlite.list100k'));
  const prune = describe(target('sqlite.prune50k'));
  printTable(
    `At scale (targets at 100k: getCachedImages ${list}, prune of 50k ${prune})`,
    ['driver', 'entries', 'getCachedImages', 'prune half', 'per eviction'],
    scaleRows,
  );
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { driver: { type: 'string' }, scale: { type: 'string', multiple: true }, ops: { type: 'string' } },
  });
  await driverBench({
    only: values.driver ?? null,
    ...(values.scale ? { scales: values.scale.map(Number) } : {}),
    ...(values.ops !== undefined ? { ops: Number(values.ops) } : {}),
  });
}
