// Streaming throughput of the core against the plain Node baseline doing the same work.
import { createReadStream, createWriteStream } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ImageCache, silentLogger } from '../packages/core/dist/index.js';
import { GiB, MiB, best, fmtRate, printTable, repeatedChunks, scratch, time } from './lib.mjs';
import { describe, mark, target } from './targets.mjs';

const flushDisk = () => spawnSync('sync');

const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });

export async function throughputBench({ size = GiB, runs = 2 } = {}) {
  const { dir, dispose } = await scratch('throughput');
  const rows = [];
  const figures = { size };
  // One table row and one figure (ms for imgcache and the plain Node baseline, ratio) per operation.
  const record = (key, label, imgcacheMs, baselineMs) => {
    const ratio = baselineMs / imgcacheMs;
    figures[key] = { imgcacheMs, baselineMs, ratio };
    rows.push([
      label,
      fmtRate(size, imgcacheMs),
      fmtRate(size, baselineMs),
      ratio.toFixed(2),
      `${describe(target(`core.${key}`))} ${mark(`core.${key}`, ratio)}`,
    ]);
  };
  try {
    const cache = await ImageCache.open({ dir: join(dir, 'cache'), logger: silentLogger, maxSize: 8 * size });
    let n = 0;
    // Alternate the two, each starting with no dirty pages left by the other: disk
    // writeback state otherwise swings single runs by a factor of several.
    let cacheWrite = Infinity;
    let baselineWrite = Infinity;
    for (let run = 0; run < runs; run++) {
      await cache.deleteCachedImage(`big-${n}`);
      flushDisk();
      cacheWrite = Math.min(
        cacheWrite,
        (await time(() => cache.cacheImageIter(`big-${++n}`, repeatedChunks(size)))).ms,
      );
      await rm(join(dir, 'plain.bin'), { force: true });
      flushDisk();
      const plain = await time(async () => {
        const path = join(dir, 'plain.bin');
        await pipeline(Readable.from(repeatedChunks(size)), createWriteStream(path));
        const handle = await open(path, 'r+');
        await handle.datasync();
        await handle.close();
      });
      baselineWrite = Math.min(baselineWrite, plain.ms);
    }
    record('write', `write ${size / MiB} MiB (sha256 + fsync)`, cacheWrite, baselineWrite);

    const cacheRead = await best(runs + 1, async () => pipeline(await cache.openForRead(`big-${n}`), sink()));
    const baselineRead = await best(runs + 1, async () =>
      pipeline(createReadStream(cache.layout.imagePath(`big-${n}`)), sink()),
    );
    record('read', `read ${size / MiB} MiB (openForRead)`, cacheRead, baselineRead);
    // The same read with the buffer size core uses, so the ratio is not only about buffers.
    const sameBuffer = await best(runs + 1, async () =>
      pipeline(createReadStream(cache.layout.imagePath(`big-${n}`), { highWaterMark: 1024 * 1024 }), sink()),
    );
    record('readSameBuffer', `read ${size / MiB} MiB vs 1 MiB-buffer stream`, cacheRead, sameBuffer);
    await cache.close();
  } finally {
    await dispose();
  }
  printTable(
    'Streaming throughput (best of runs; ratio = imgcache / plain Node)',
    ['operation', 'imgcache', 'plain Node', 'ratio', 'target'],
    rows,
  );
  return figures;
}
