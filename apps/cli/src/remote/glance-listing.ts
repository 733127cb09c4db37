/**
 * A cached image as a server's management API lists it, in the CLI's units: exact bytes
 * and `Date`s. The API does not report checksums, so `checksum` is always `null`.
 */
export interface RemoteCachedImage {
  imageId: string;
  size: number;
  hits: number;
  lastAccessed: Date;
  lastModified: Date;
  checksum: null;
}

/** What `GET /v2/cache` lists: cached images and queued ids (oldest first). */
export interface RemoteCacheListing {
  cachedImages: RemoteCachedImage[];
  queuedImages: string[];
}

/**
 * Reads the body of `GET /v2/cache`, which uses Glance's shapes: snake_case keys and times
 * in (fractional) epoch seconds.
 * @throws {TypeError} naming the first field that does not have the expected shape.
 */
export function parseCacheListing(body: unknown): RemoteCacheListing {
  const record = asRecord(body, 'the body');
  const cached = record.cached_images;
  const queued = record.queued_images;
  if (!Array.isArray(cached)) throw new TypeError('cached_images is not a list');
  if (!Array.isArray(queued) || !queued.every((id) => typeof id === 'string'))
    throw new TypeError('queued_images is not a list of ids');
  return { cachedImages: cached.map(parseEntry), queuedImages: queued as string[] };
}

/**
 * Reads the `num_deleted` count of the legacy delete-all routes.
 * @throws {TypeError} when the count is missing or not a whole number.
 */
export function parseDeletedCount(body: unknown): number {
  const count = asRecord(body, 'the body').num_deleted;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)
    throw new TypeError('num_deleted is not a count');
  return count;
}

function parseEntry(entry: unknown, index: number): RemoteCachedImage {
  const where = `cached_images[${index}]`;
  const record = asRecord(entry, where);
  const imageId = record.image_id;
  if (typeof imageId !== 'string') throw new TypeError(`${where}.image_id is not a string`);
  return {
    imageId,
    size: count(record.size, `${where}.size`),
    hits: count(record.hits, `${where}.hits`),
    lastAccessed: epochSeconds(record.last_accessed, `${where}.last_accessed`),
    lastModified: epochSeconds(record.last_modified, `${where}.last_modified`),
    checksum: null,
  };
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`${where} is not a JSON object`);
  return value as Record<string, unknown>;
}

function count(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new TypeError(`${where} is not a whole number`);
  return value;
}

function epochSeconds(value: unknown, where: string): Date {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new TypeError(`${where} is not a time in epoch seconds`);
  // Rounding to whole milliseconds undoes the float error of seconds * 1000 (e.g. 1.7e9 + 0.123).
  return new Date(Math.round(value * 1000));
}
