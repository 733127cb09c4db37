import { randomBytes } from 'node:crypto';
import { link, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute, removeAttribute, setAttribute } from 'fs-xattr';
import { DriverConfigError, errnoCode, removeFile } from '@imgcache/core';

const PROBE_ATTRIBUTE = 'user.imgcache.probe';
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP']);

export interface ProbeTarget {
  root: string;
  imagesDir: string;
  entriesDir: string;
}

/**
 * Checks that this cache directory can hold our metadata: user extended attributes on its
 * filesystem, and hard links from `images/` into the entries directory. A filesystem
 * without user xattrs (ramfs, procfs, some FUSE and network mounts) raises
 * {@link DriverConfigError}, on which core falls back to SQLite; any other failure is
 * raised as it is, because it is not something a different driver would fix silently.
 * The probe file lives in the root (never in `images/`, where it would look like an image)
 * and is always removed.
 * @throws {DriverConfigError} when user xattrs or hard links are not supported here.
 */
export async function probeXattrSupport(target: ProbeTarget): Promise<void> {
  await assertSameFilesystem(target);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const probe = join(target.root, `.imgcache-xattr-probe-${suffix}`);
  // `~` never occurs in an image id, so scans of the entries directory skip this name.
  const probeLink = join(target.entriesDir, `probe~${suffix}`);
  await writeFile(probe, '');
  try {
    const expected = `probe-${suffix}`;
    await setAttribute(probe, PROBE_ATTRIBUTE, expected);
    const read = (await getAttribute(probe, PROBE_ATTRIBUTE)).toString('utf8');
    if (read !== expected) {
      throw new DriverConfigError(
        'xattr',
        `the filesystem of ${target.root} returned ${JSON.stringify(read)} for a user extended attribute set to ${JSON.stringify(expected)}.`,
      );
    }
    await removeAttribute(probe, PROBE_ATTRIBUTE);
    await link(probe, probeLink);
  } catch (error) {
    const code = errnoCode(error);
    if (code && UNSUPPORTED.has(code)) {
      throw new DriverConfigError(
        'xattr',
        `the filesystem of ${target.root} does not support user extended attributes or hard links (${code}). ` +
          'Use a cache directory on ext4, xfs, btrfs or tmpfs (mounted with user_xattr), or the sqlite driver.',
        { cause: error },
      );
    }
    throw error;
  } finally {
    await removeFile(probeLink);
    await removeFile(probe);
  }
}

async function assertSameFilesystem({ root, imagesDir, entriesDir }: ProbeTarget): Promise<void> {
  const [images, entries] = await Promise.all([stat(imagesDir), stat(entriesDir)]);
  if (images.dev !== entries.dev) {
    throw new DriverConfigError(
      'xattr',
      `${imagesDir} and ${entriesDir} are on different filesystems, so cached files cannot be hard-linked into the entry index. Keep ${root} on one filesystem.`,
    );
  }
}
