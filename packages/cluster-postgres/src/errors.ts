/** The marker `ImgcacheError.is()` of @imgcache/core recognises across copies of the packages. */
const IMGCACHE_ERROR = Symbol.for('imgcache.error');

/** Stable codes of {@link ClusterError}. */
export type ClusterErrorCode =
  /** The stored node id is unusable. */
  | 'ERR_IMGCACHE_CLUSTER_NODE_ID'
  /** The database holds a newer schema than this release knows. */
  | 'ERR_IMGCACHE_CLUSTER_SCHEMA'
  /** A setting of the cluster is out of range. */
  | 'ERR_IMGCACHE_CLUSTER_OPTION'
  /** The cluster was used after `close()`. */
  | 'ERR_IMGCACHE_CLUSTER_CLOSED';

/**
 * An error of the cluster layer. It carries the same marker as @imgcache/core's
 * `ImgcacheError`, so `ImgcacheError.is(error, code)` recognises it without this package
 * depending on core.
 */
export class ClusterError extends Error {
  readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterError';
    this.code = code;
    Object.defineProperty(this, IMGCACHE_ERROR, { value: true });
  }
}
