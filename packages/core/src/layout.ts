import { join, resolve } from 'node:path';
import { assertValidImageId } from './image-id.js';

/**
 * Where a cache keeps its files. Images live in `images/`, a directory of their own, so
 * no valid image id can name a driver's database or one of the work directories.
 *
 * ```
 * <root>/images/<id>                    committed, verified images
 * <root>/incomplete/<id>~<pid>-<rand>   one temporary file per writer (also its claim)
 * <root>/invalid/<id>~<pid>-<rand>      failed or abandoned writes, removed by clean()
 * <root>/queue/<id>                     empty marker: prefetch this image; FIFO by mtime
 * <root>/<driver files>                 e.g. the SQLite database
 * ```
 */
export class CacheLayout {
  readonly root: string;
  readonly imagesDir: string;
  readonly incompleteDir: string;
  readonly invalidDir: string;
  readonly queueDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.imagesDir = join(this.root, 'images');
    this.incompleteDir = join(this.root, 'incomplete');
    this.invalidDir = join(this.root, 'invalid');
    this.queueDir = join(this.root, 'queue');
  }

  /** Every directory the cache needs, in creation order. */
  get directories(): string[] {
    return [this.root, this.imagesDir, this.incompleteDir, this.invalidDir, this.queueDir];
  }

  /** Path of a committed image. Validates the id first. */
  imagePath(imageId: string): string {
    assertValidImageId(imageId);
    return join(this.imagesDir, imageId);
  }

  /** Path of an image's queue marker. Validates the id first. */
  queuePath(imageId: string): string {
    assertValidImageId(imageId);
    return join(this.queueDir, imageId);
  }
}

/** Separates the image id from the writer's unique suffix; `~` never occurs in an id. */
const WORK_FILE_SEPARATOR = '~';

/** Name of a writer's temporary file: `<id>~<pid>-<random>`. */
export function workFileName(imageId: string, pid: number, random: string): string {
  return `${imageId}${WORK_FILE_SEPARATOR}${pid}-${random}`;
}

/** The parts of a work file name, or null for a foreign file. */
export function parseWorkFileName(name: string): { imageId: string; pid: number } | null {
  const at = name.lastIndexOf(WORK_FILE_SEPARATOR);
  if (at <= 0) return null;
  const match = /^(\d+)-[0-9a-z]+$/.exec(name.slice(at + 1));
  if (!match) return null;
  return { imageId: name.slice(0, at), pid: Number(match[1]) };
}
