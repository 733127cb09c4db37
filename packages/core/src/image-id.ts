import { InvalidImageIdError } from './errors.js';

/** Longest accepted image id; also the longest file name most filesystems allow. */
export const MAX_IMAGE_ID_LENGTH = 255;

const IMAGE_ID_PATTERN = /^[A-Za-z0-9._-]+$/;

/** True when `value` is a usable image id. */
export function isValidImageId(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_IMAGE_ID_LENGTH &&
    value !== '.' &&
    value !== '..' &&
    IMAGE_ID_PATTERN.test(value)
  );
}

/**
 * Checks an image id before it is used as a file name.
 * @throws {InvalidImageIdError} with the reason it was refused.
 */
export function assertValidImageId(value: unknown): asserts value is string {
  if (isValidImageId(value)) return;
  throw new InvalidImageIdError(value, reasonFor(value));
}

function reasonFor(value: unknown): string {
  if (typeof value !== 'string') return 'it is not a string';
  if (value.length === 0) return 'it is empty';
  if (value.length > MAX_IMAGE_ID_LENGTH)
    return `it is ${value.length} characters long (at most ${MAX_IMAGE_ID_LENGTH})`;
  if (value === '.' || value === '..') return 'it names a directory';
  if (/[/\\]/.test(value)) return 'it contains a path separator';
  if (value.includes('\0')) return 'it contains a NUL character';
  return 'it contains a character outside A-Z a-z 0-9 . _ -';
}
