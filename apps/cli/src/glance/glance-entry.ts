/** Which of Glance's cache drivers (its `image_cache_driver` option) made a cache directory. */
export type GlanceDriver = 'sqlite' | 'xattr';

/** An image Glance committed to its cache, as its driver recorded it. Times are epoch seconds. */
export interface GlanceEntry {
  imageId: string;
  /** Bytes: the sqlite driver's `size` column; the file's size for the xattr driver. */
  size: number;
  hits: number;
  /** An md5 in the sqlite driver's (normally empty) `checksum` column; the xattr driver records none. */
  checksum: string | null;
  lastAccessed: number;
  lastModified: number;
}
