import { stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { ImgcacheError, isValidImageId, type ImageCache, type Logger } from '@imgcache/core';
import { Option, type Command } from 'commander';
import { ioFor } from '../cli-io.js';
import { contextFor, withCache, type CommandContext } from '../context.js';
import { OperationFailedError, UsageError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import type { GlanceDriver } from '../glance/glance-entry.js';
import { openGlanceFile } from '../glance/open-glance-file.js';
import { readGlanceCache, type GlanceCache } from '../glance/read-glance-cache.js';
import { examples } from '../help.js';
import { parsePathFlag } from '../option-parsers.js';

interface ImportSummary {
  source: string;
  /** The Glance driver that made the directory. */
  driver: GlanceDriver;
  /** The sqlite driver's database; null for the xattr driver. */
  database: string | null;
  imported: { imageId: string; size: number; checksum: string }[];
  skipped: { imageId: string; reason: string }[];
  failed: { imageId: string; error: string }[];
  queued: string[];
  /** Hits recorded by Glance for the imported images; the cache API has no way to set hits. */
  hitsNotCarried: number;
}

/**
 * `import-glance DIR`: adopts a Glance cache directory made by either of Glance's drivers
 * (sqlite: `cache.db`; xattr: `user.hits` attributes), read-only, re-hashing every file
 * through the normal write path.
 */
export function registerImportGlance(program: Command): void {
  const command = program
    .command('import-glance')
    .description(
      'adopt a Glance image cache directory (files + cache.db rows or user.hits attributes + queue) without changing it',
    )
    .argument('<glance-cache-dir>', "Glance's image_cache_dir")
    .addOption(
      new Option(
        '--glance-driver <name>',
        "the image_cache_driver Glance used: auto tells from cache.db or the files' user.hits attributes",
      )
        .choices(['auto', 'sqlite', 'xattr'])
        .default('auto'),
    )
    .option('--db <file>', "the sqlite driver's database (default: <glance-cache-dir>/cache.db)", parsePathFlag)
    .action(
      async (glanceDirArg: string, options: { db?: string; glanceDriver: GlanceDriver | 'auto' }, self: Command) => {
        if (options.db !== undefined && options.glanceDriver === 'xattr')
          throw new UsageError("--db names the sqlite driver's database; Glance's xattr driver has none.");
        const { cwd } = ioFor(self);
        const glanceDir = resolve(cwd, glanceDirArg);
        const info = await stat(glanceDir).catch(() => null);
        if (!info?.isDirectory()) throw new OperationFailedError(`${glanceDir} is not a directory.`);
        const context = await contextFor(self);
        const target = context.config.dir;
        if (isInside(target, glanceDir) || isInside(glanceDir, target)) {
          throw new UsageError(
            `The imgcache directory ${target} overlaps the Glance directory ${glanceDir}; choose a separate --dir so Glance's files stay untouched.`,
          );
        }
        const glance = await readGlanceCache(glanceDir, {
          driver: options.glanceDriver,
          database: options.db && resolve(cwd, options.db),
        });
        const summary = await withCache(context, (cache) => adopt(cache, glanceDir, glance, context.logger));
        report(context, summary);
        if (summary.failed.length > 0)
          throw new OperationFailedError(
            `${summary.failed.length} image${summary.failed.length === 1 ? '' : 's'} failed to import.`,
          );
      },
    );
  examples(command, [
    'imgcache --dir /var/cache/imgcache import-glance /var/lib/glance/image-cache',
    'imgcache import-glance /var/lib/glance/image-cache --db /var/lib/glance/image-cache/custom.db',
    'imgcache import-glance /var/lib/glance/image-cache --glance-driver xattr',
  ]);
}

async function adopt(
  cache: ImageCache,
  glanceDir: string,
  glance: GlanceCache,
  logger: Logger,
): Promise<ImportSummary> {
  const { driver, database } = glance;
  const summary: ImportSummary = {
    source: glanceDir,
    driver,
    database,
    imported: [],
    skipped: [],
    failed: [],
    queued: [],
    hitsNotCarried: 0,
  };
  const committed = new Set<string>();
  for (const entry of glance.entries) {
    committed.add(entry.imageId);
    const skip = (reason: string) => summary.skipped.push({ imageId: entry.imageId, reason });
    if (!isValidImageId(entry.imageId)) {
      skip('invalid image id (not used as a file name here)');
      continue;
    }
    const fileSize = glance.files.get(entry.imageId);
    if (fileSize === undefined) {
      skip('file missing in the Glance directory');
      continue;
    }
    if (fileSize !== entry.size) {
      skip(`size mismatch: file has ${fileSize} bytes, cache.db says ${entry.size}`);
      continue;
    }
    if (await cache.isCached(entry.imageId)) {
      skip('already cached here');
      continue;
    }
    // Glance never fills its checksum column, but a value there is an md5 worth checking.
    const checksum = entry.checksum && /^[0-9a-f]{32}$/i.test(entry.checksum) ? entry.checksum : undefined;
    try {
      const { stream, size } = await openGlanceFile(join(glanceDir, entry.imageId));
      const cached = await cache
        .cacheImageIter(entry.imageId, stream, checksum, { expectedSize: size })
        .finally(() => stream.destroy());
      if (!cached) {
        skip('another process holds it right now (caching or checking it); run the import again');
        continue;
      }
      const image = await cache.getCachedImage(entry.imageId);
      summary.imported.push({
        imageId: entry.imageId,
        size: image?.size ?? entry.size,
        checksum: image?.checksum ?? '',
      });
      summary.hitsNotCarried += entry.hits;
      logger.debug({ imageId: entry.imageId, size: entry.size }, 'imported');
    } catch (error) {
      summary.failed.push({
        imageId: entry.imageId,
        error: ImgcacheError.is(error) || error instanceof Error ? error.message : String(error),
      });
    }
  }
  const uncommitted =
    driver === 'sqlite'
      ? 'no cache.db row (Glance never committed it)'
      : 'no user.hits attribute (Glance never committed it)';
  for (const name of glance.files.keys()) {
    if (!committed.has(name)) summary.skipped.push({ imageId: name, reason: uncommitted });
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
    `Imported ${summary.imported.length} image${summary.imported.length === 1 ? '' : 's'} (${formatSize(bytes)}) from ${summary.source} (Glance's ${summary.driver} driver); ` +
      `${summary.skipped.length} skipped, ${summary.failed.length} failed, ${summary.queued.length} queued.`,
  );
  if (out.verbose && summary.imported.length > 0) {
    out.table(
      [{ header: 'IMPORTED' }, { header: 'SIZE', align: 'right' }, { header: 'CHECKSUM' }],
      summary.imported.map((image) => [image.imageId, formatSize(image.size), image.checksum]),
      '  ',
    );
  }
  if (summary.skipped.length > 0)
    out.table(
      [{ header: 'SKIPPED' }, { header: 'REASON' }],
      summary.skipped.map((item) => [item.imageId, item.reason]),
      '  ',
    );
  if (summary.failed.length > 0)
    out.table(
      [{ header: 'FAILED' }, { header: 'ERROR' }],
      summary.failed.map((item) => [item.imageId, item.error]),
      '  ',
    );
  if (summary.hitsNotCarried > 0)
    out.line(
      `Hit counts are not carried over (${summary.hitsNotCarried} Glance hits); imported images start at 0 hits.`,
    );
}

/** True when `path` is `parent` or lies inside it. */
function isInside(path: string, parent: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}
