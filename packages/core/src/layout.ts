import { join, resolve } from 'node:path';
import { assertValidImageId } from './image-id.js';

/**
 * Names of the directories core owns in a cache root. A driver keeps its own files in the
 * root under any other name, and refuses options that would take one of these.
 */
export const CORE_DIRECTORY_NAMES = ['images', 'incomplete', 'invalid', 'queue'] as const;

/** True when `name` is one of {@link CORE_DIRECTORY_NAMES}. */
export function isCoreDirectoryName(name: string): boolean {
  return (CORE_DIRECTORY_NAMES as readonly string[]).includes(name);
}

/**
 * Where a cache keeps its files. Images live in `images/`, a directory of their own, so
 * no valid image id can name a driver's database or one of the work directories.
 *
 * ```
 * <root>/images/<id>                        committed, verified images
 * <root>/incomplete/<key>~<pid>-<rand>       one work file per writer (also its claim)
 * <root>/incomplete/<key>~<pid>-<rand>.lock  a claim without data (see claims.ts)
 * <root>/invalid/<key>~<cause>-<rand>        files moved aside (see quarantine.ts), removed by clean()
 * <root>/queue/<id>                          empty marker: prefetch this image; FIFO by mtime
 * <root>/<driver files>                      e.g. the SQLite database
 * ```
 *
 * `<key>` is the image id, shortened to a prefix and a hash when it is too long to leave
 * room for a suffix within the 255-byte name limit (names.ts).
 */
export class CacheLayout {
  readonly root: string;
  readonly imagesDir: string;
  readonly incompleteDir: string;
  readonly invalidDir: string;
  readonly queueDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    const [images, incomplete, invalid, queue] = CORE_DIRECTORY_NAMES;
    this.imagesDir = join(this.root, images);
    this.incompleteDir = join(this.root, incomplete);
    this.invalidDir = join(this.root, invalid);
    this.queueDir = join(this.root, queue);
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
