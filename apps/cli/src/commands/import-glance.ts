import { stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { ImgcacheError, isValidImageId, type ImageCache, type Logger } from '@imgcache/core';
import type { Command } from 'commander';
import { contextFor, withCache, type CommandContext } from '../context.js';
import { OperationFailedError, UsageError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import { readGlanceCache, type GlanceCache } from '../glance/read-glance-cache.js';
import { examples } from '../help.js';
import { parsePathFlag } from '../option-parsers.js';

interface ImportSummary {
  source: string;
  database: string;
  imported: { imageId: string; size: number; checksum: string }[];
  skipped: { imageId: string; reason: string }[];
  failed: { imageId: string; error: string }[];
  queued: string[];
  /** Hits recorded by Glance for the imported images; the cache API has no way to set hits. */
  hitsNotCarried: number;
}

/** `import-glance DIR`: adopts a Glance cache directory (read-only) through `cacheImageFile`, which re-hashes every file. */
export function registerImportGlance(program: Command): void {
  const command = program
    .command('import-glance')
    .description("adopt a Glance image cache directory (files + cache.db rows + queue) without changing it")
    .argument('<glance-cache-dir>', "Glance's image_cache_dir")
    .option('--db <file>', "Glance's database (default: <glance-cache-dir>/cache.db)", parsePathFlag)
    .action(async (glanceDirArg: string, options: { db?: string }, self: Command) => {
      const glanceDir = resolve(glanceDirArg);
      const info = await stat(glanceDir).catch(() => null);
      if (!info?.isDirectory()) throw new OperationFailedError(`${glanceDir} is not a directory.`);
      const context = await contextFor(self);
      const target = context.config.dir;
      if (isInside(target, glanceDir) || isInside(glanceDir, target)) {
        throw new UsageError(`The imgcache directory ${target} overlaps the Glance directory ${glanceDir}; choose a separate --dir so Glance's files stay untouched.`);
      }
      const database = resolve(options.db ?? join(glanceDir, 'cache.db'));
      const glance = await readGlanceCache(glanceDir, database);
      const summary = await withCache(context, (cache) => adopt(cache, glanceDir, database, glance, context.logger));
      report(context, summary);
      if (summary.failed.length > 0) throw new OperationFailedError(`${summary.failed.length} image${summary.failed.length === 1 ? '' : 's'} failed to import.`);
    });
  examples(command, ['imgcache --dir /var/cache/imgcache import-glance /var/lib/glance/image-cache', 'imgcache import-glance /var/lib/glance/image-cache --db /var/lib/glance/image-cache/custom.db']);
}

async function adopt(
  cache: ImageCache,
  glanceDir: string,
  database: string,
  glance: GlanceCache,
  logger: Logger,
): Promise<ImportSummary> {
  const summary: ImportSummary = { source: glanceDir, database, imported: [], skipped: [], failed: [], queued: [], hitsNotCarried: 0 };
  const rowIds = new Set<string>();
  for (const row of glance.rows) {
    rowIds.add(row.imageId);
    const skip = (reason: string) => summary.skipped.push({ imageId: row.imageId, reason });
    if (!isValidImageId(row.imageId)) {
      skip('invalid image id (not used as a file name here)');
      continue;
    }
    const fileSize = glance.files.get(row.imageId);
    if (fileSize === undefined) {
      skip('file missing in the Glance directory');
      continue;
    }
    if (fileSize !== row.size) {
      skip(`size mismatch: file has ${fileSize} bytes, cache.db says ${row.size}`);
      continue;
    }
    if (await cache.isCached(row.imageId)) {
      skip('already cached here');
      continue;
    }
    // Glance never fills its checksum column, but a value there is an md5 worth checking.
    const checksum = row.checksum && /^[0-9a-f]{32}$/i.test(row.checksum) ? row.checksum : undefined;
    try {
      const cached = await cache.cacheImageFile(row.imageId, join(glanceDir, row.imageId), checksum);
      if (!cached) {
        skip('another process holds it right now (caching or checking it); run the import again');
        continue;
      }
      const image = await cache.getCachedImage(row.imageId);
      summary.imported.push({ imageId: row.imageId, size: image?.size ?? row.size, checksum: image?.checksum ?? '' });
      summary.hitsNotCarried += row.hits;
      logger.debug({ imageId: row.imageId, size: row.size }, 'imported');
    } catch (error) {
      summary.failed.push({ imageId: row.imageId, error: ImgcacheError.is(error) || error instanceof Error ? error.message : String(error) });
    }
  }
  for (const name of glance.files.keys()) {
    if (!rowIds.has(name)) summary.skipped.push({ imageId: name, reason: 'no cache.db row (Glance never committed it)' });
  }
  for (const imageId of glance.queued) {
    if (!isValidImageId(imageId)) summary.skipped.push({ imageId, reason: 'queued under an invalid image id' });
    else if (await cache.queueImage(imageId)) summary.queued.push(imageId);
  }
  return summary;
}

function report({ out }: CommandContext, summary: ImportSummary): void {
  out.data(summary);
  const bytes = summary.imported.reduce((sum, image) => sum + image.size, 0);
  out.line(
    `Imported ${summary.imported.length} image${summary.imported.length === 1 ? '' : 's'} (${formatSize(bytes)}) from ${summary.source}; ` +
      `${summary.skipped.length} skipped, ${summary.failed.length} failed, ${summary.queued.length} queued.`,
  );
  if (out.verbose && summary.imported.length > 0) {
    out.table([{ header: 'IMPORTED' }, { header: 'SIZE', align: 'right' }, { header: 'CHECKSUM' }], summary.imported.map((image) => [image.imageId, formatSize(image.size), image.checksum]), '  ');
  }
  if (summary.skipped.length > 0) out.table([{ header: 'SKIPPED' }, { header: 'REASON' }], summary.skipped.map((item) => [item.imageId, item.reason]), '  ');
  if (summary.failed.length > 0) out.table([{ header: 'FAILED' }, { header: 'ERROR' }], summary.failed.map((item) => [item.imageId, item.error]), '  ');
  if (summary.hitsNotCarried > 0) out.line(`Hit counts are not carried over (${summary.hitsNotCarried} Glance hits); imported images start at 0 hits.`);
}

/** True when `path` is `parent` or lies inside it. */
function isInside(path: string, parent: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}
