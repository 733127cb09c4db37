import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheLayout, silentLogger, type DriverContext, type Logger } from '@imgcache/core';
import { createXattrDriver, type XattrDriver, type XattrDriverOptions } from '../src/index.js';

/** A scratch cache root with core's directory layout, on the OS temp dir (ext4 here). */
export async function scratchRoot(
  prefix = 'imgcache-xattr-',
): Promise<{ layout: CacheLayout; dispose: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const layout = new CacheLayout(root);
  for (const directory of layout.directories) await mkdir(directory, { recursive: true });
  return { layout, dispose: () => rm(root, { recursive: true, force: true }) };
}

export function contextFor(layout: CacheLayout, logger: Logger = silentLogger): DriverContext {
  return {
    root: layout.root,
    imagesDir: layout.imagesDir,
    imagePath: (imageId) => layout.imagePath(imageId),
    nodeId: 'test-node',
    logger,
  };
}

/** Creates the driver with `options` and opens it on `layout`, as core does; an option error rejects. */
export async function openXattr(layout: CacheLayout, options: Record<string, unknown> = {}): Promise<XattrDriver> {
  return createXattrDriver(options as XattrDriverOptions)(contextFor(layout));
}

/** A logger that keeps every warning, to check what core reported. */
export function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn(obj, msg) {
      warnings.push(`${msg ?? ''} ${typeof obj === 'string' ? obj : JSON.stringify(obj)}`);
    },
    error() {},
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
