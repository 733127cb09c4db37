import { ImgcacheError } from '@imgcache/core';

/**
 * Error codes of this machine's storage rather than the origin's: a full disk or quota,
 * an I/O error, a read-only or vanished filesystem, a file too large, out of descriptors,
 * a permission taken away (errno names from POSIX `<errno.h>`).
 */
const LOCAL_CODES = new Set([
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EROFS',
  'EFBIG',
  'EMFILE',
  'ENFILE',
  'EACCES',
  'EPERM',
  'ENODEV',
  'ENXIO',
  'ESTALE',
]);

/**
 * The `reason` label of `imgcache_fill_failures_total` for the error a fill failed with:
 * an imgcache error's code (`ERR_IMGCACHE_CHECKSUM_MISMATCH` gives `checksum_mismatch`),
 * `local` for a failure of this machine's storage (see {@link LOCAL_CODES}), else `origin`
 * (the download broke off, timed out or was refused).
 */
export function fillFailureReason(error: unknown): string {
  if (ImgcacheError.is(error)) return error.code.replace('ERR_IMGCACHE_', '').toLowerCase();
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && LOCAL_CODES.has(code) ? 'local' : 'origin';
}
