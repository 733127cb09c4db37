import type { ImageSource } from './fill.js';

/**
 * Checks that an image source was passed where the source goes: every caching method takes
 * `(imageId, source, checksum?)`. A string or nothing there is a checksum in the wrong place
 * (`getCachingIter` took `(imageId, checksum, source)` before 0.2), refused before anything is read.
 * @throws {TypeError} when `source` is not an iterable of chunks.
 */
export function assertImageSource(source: unknown, method: string): asserts source is ImageSource {
  const iterable =
    typeof source === 'object' && source !== null && (Symbol.asyncIterator in source || Symbol.iterator in source);
  if (iterable) return;
  throw new TypeError(
    `${method}(imageId, source, checksum?) takes the image source second and the checksum third; got ${source === null ? 'null' : typeof source} as the source.`,
  );
}
