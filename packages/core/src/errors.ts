// Every error imgcache raises, one class per code, in one file on purpose (longer than most):
// a caller matching codes, and a driver author, find the whole family and its codes in one place.
const IMGCACHE_ERROR = Symbol.for('imgcache.error');

/** Stable machine-readable error codes raised by imgcache. */
export type ImgcacheErrorCode =
  | 'ERR_IMGCACHE_INVALID_IMAGE_ID'
  | 'ERR_IMGCACHE_INVALID_CHECKSUM'
  | 'ERR_IMGCACHE_INVALID_OPTION'
  | 'ERR_IMGCACHE_INVALID_SETTING'
  | 'ERR_IMGCACHE_CONFIG_FILE'
  | 'ERR_IMGCACHE_CACHE_DIR'
  | 'ERR_IMGCACHE_CHECKSUM_MISMATCH'
  | 'ERR_IMGCACHE_SIZE_MISMATCH'
  | 'ERR_IMGCACHE_NOT_CACHED'
  | 'ERR_IMGCACHE_CLOSED'
  | 'ERR_IMGCACHE_ABORTED'
  | 'ERR_IMGCACHE_FILL_UNAVAILABLE'
  | 'ERR_IMGCACHE_DRIVER_NOT_FOUND'
  | 'ERR_IMGCACHE_DRIVER_CONFIG'
  | 'ERR_IMGCACHE_DRIVER_CONTRACT'
  | 'ERR_IMGCACHE_DRIVER_LOAD'
  | 'ERR_IMGCACHE_DRIVER_STORE'
  | 'ERR_IMGCACHE_DIRECTORY_IN_USE'
  // Raised by the apps (@imgcache/cli, @imgcache/server); listed here so every code has one home.
  | 'ERR_IMGCACHE_CLI_USAGE'
  | 'ERR_IMGCACHE_CLI_FAILED'
  | 'ERR_IMGCACHE_CLI_INTERRUPTED'
  | 'ERR_IMGCACHE_CLI_REMOTE'
  | 'ERR_IMGCACHE_SERVER_CONFIG'
  | 'ERR_IMGCACHE_ORIGIN'
  | 'ERR_IMGCACHE_ORIGIN_TIMEOUT'
  | 'ERR_IMGCACHE_ORIGIN_RESPONSE';

/**
 * Base class of every error imgcache raises. Use {@link ImgcacheError.is} rather than
 * `instanceof`: it also recognises errors from a second copy of this package.
 */
export class ImgcacheError extends Error {
  readonly code: ImgcacheErrorCode;

  constructor(code: ImgcacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    Object.defineProperty(this, IMGCACHE_ERROR, { value: true });
  }

  /** True when `error` is an imgcache error, optionally with the given code. */
  static is(error: unknown, code?: ImgcacheErrorCode): error is ImgcacheError {
    if (typeof error !== 'object' || error === null) return false;
    if ((error as Record<symbol, unknown>)[IMGCACHE_ERROR] !== true) return false;
    return code === undefined || (error as ImgcacheError).code === code;
  }
}

/** An image id that could escape or alias the cache layout. Raised before any filesystem call. */
export class InvalidImageIdError extends ImgcacheError {
  constructor(
    readonly imageId: unknown,
    reason: string,
  ) {
    super(
      'ERR_IMGCACHE_INVALID_IMAGE_ID',
      `Invalid image id ${describe(imageId)}: ${reason}. Image ids are 1-255 characters of A-Z a-z 0-9 . _ - and not "." or "..".`,
    );
  }
}

/** An expected checksum that is neither 32 hex digits (md5) nor `algorithm:hex`. */
export class InvalidChecksumError extends ImgcacheError {
  constructor(value: string, reason: string) {
    super(
      'ERR_IMGCACHE_INVALID_CHECKSUM',
      `Invalid checksum ${JSON.stringify(value)}: ${reason}. Use 32 hex digits (md5) or "md5:…", "sha256:…", "sha512:…".`,
    );
  }
}

/** A configuration value that cannot work (negative size, unknown algorithm…). */
export class InvalidOptionError extends ImgcacheError {
  constructor(option: string, reason: string) {
    super('ERR_IMGCACHE_INVALID_OPTION', `Invalid option ${option}: ${reason}.`);
  }
}

/**
 * A flag, environment variable or config-file value outside its accepted values. `setting`
 * is the name the user wrote (`--public`, `IMGCACHE_PUBLIC`), so the message points at it.
 */
export class InvalidSettingError extends ImgcacheError {
  constructor(
    readonly setting: string,
    readonly value: string,
    /** Why the value is refused, naming the accepted values; no setting name, no final period. */
    readonly reason: string,
  ) {
    super('ERR_IMGCACHE_INVALID_SETTING', `Invalid ${setting}: ${reason}.`);
  }
}

/**
 * A config file that cannot be read or parsed, or whose top level is not a table of
 * settings. `path` is the file as given. A bad value inside a readable file is an
 * {@link InvalidSettingError} naming the key instead.
 */
export class ConfigFileError extends ImgcacheError {
  constructor(
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_CONFIG_FILE', `Cannot read config file ${path}: ${detail}`, options);
  }
}

/**
 * The cache directory, or one of its parts, cannot be created or written. `path` is the
 * directory that failed and `errno` the system's reason (`EROFS`, `EACCES`, `ENOSPC`…).
 */
export class CacheDirectoryError extends ImgcacheError {
  constructor(
    readonly path: string,
    readonly errno: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_CACHE_DIR', `Cannot use cache directory ${path}: ${errno}: ${detail}`, options);
  }
}

/** The streamed bytes do not hash to the expected checksum; nothing was cached. */
export class ChecksumMismatchError extends ImgcacheError {
  constructor(
    readonly imageId: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      'ERR_IMGCACHE_CHECKSUM_MISMATCH',
      `Checksum verification failed for image ${imageId}: expected ${expected}, got ${actual}. The image was not cached.`,
    );
  }
}

/** The stream ended with a different number of bytes than announced; nothing was cached. */
export class SizeMismatchError extends ImgcacheError {
  constructor(
    readonly imageId: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      'ERR_IMGCACHE_SIZE_MISMATCH',
      `Size check failed for image ${imageId}: expected ${expected} bytes, got ${actual}. The image was not cached.`,
    );
  }
}

/** The image is not in the cache. */
export class NotCachedError extends ImgcacheError {
  constructor(
    readonly imageId: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_NOT_CACHED', `Image ${imageId} is not cached.`, options);
  }
}

/** The cache was used after `close()`. */
export class CacheClosedError extends ImgcacheError {
  constructor() {
    super('ERR_IMGCACHE_CLOSED', 'The image cache is closed; open a new one with ImageCache.open().');
  }
}

/**
 * A fill, or one reader of it, was stopped by its caller: its AbortSignal aborted, or the
 * consumer of a caching iterator stopped early. (A fill stopped by `close()` rejects with
 * {@link CacheClosedError} instead.)
 */
export class FillAbortedError extends ImgcacheError {
  constructor(
    readonly imageId: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_ABORTED', `Caching of image ${imageId} was aborted; nothing was cached.`, options);
  }
}

/**
 * A reader asked for bytes of a fill that cannot give them: the fill it followed never
 * started (its start declined or failed), or it was over, or it lost the bytes this reader
 * needs (relayed without a disk, or its work file was removed), before the reader had them.
 * The image may still be cached: read it again.
 */
export class FillUnavailableError extends ImgcacheError {
  constructor(
    readonly imageId: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_IMGCACHE_FILL_UNAVAILABLE',
      `The fill of image ${imageId} cannot give this reader its bytes any more; read the image again.`,
      options,
    );
  }
}

/** The named driver package is not installed. */
export class DriverNotFoundError extends ImgcacheError {
  constructor(
    readonly packageName: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_IMGCACHE_DRIVER_NOT_FOUND',
      `Cache driver package ${packageName} is not installed. Install it (npm install ${packageName}) or choose another driver.`,
      options,
    );
  }
}

/**
 * The driver is installed but cannot work in this place, and another driver would (a
 * filesystem without extended attributes, an option naming a place the driver cannot use).
 * Core falls back to SQLite on this error unless `fallback` is false. Never raise it for a
 * store that exists but is damaged: that is {@link DriverStoreError}.
 */
export class DriverConfigError extends ImgcacheError {
  constructor(
    readonly driverName: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_DRIVER_CONFIG', `Cache driver ${driverName} cannot be used: ${reason}`, options);
  }
}

/** The driver does not implement the contract this core expects. */
export class DriverContractError extends ImgcacheError {
  constructor(
    readonly driverName: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_DRIVER_CONTRACT', `Cache driver ${driverName} breaks the driver contract: ${reason}`, options);
  }
}

/** The driver package is installed but fails to load (a missing native module, a syntax error…). */
export class DriverLoadError extends ImgcacheError {
  constructor(
    readonly packageName: string,
    options?: { cause?: unknown },
  ) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'ERR_IMGCACHE_DRIVER_LOAD',
      `Cache driver package ${packageName} is installed but failed to load${detail}. Reinstall it (its native module may need rebuilding).`,
      options,
    );
  }
}

/**
 * The driver's store exists but cannot be used: corrupt, unreadable, or written by a newer
 * version. Core never falls back from it: opening another driver would start an empty cache
 * beside the user's metadata. The message names the store and says how to recover.
 */
export class DriverStoreError extends ImgcacheError {
  constructor(
    readonly driverName: string,
    /** The file or address of the store. */
    readonly store: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_IMGCACHE_DRIVER_STORE', `Cache driver ${driverName} cannot use its store ${store}: ${reason}`, options);
  }
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return `of type ${typeof value}`;
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown);
}

/**
 * The cache directory is open in another process (or another ImageCache of this one) with
 * a driver that declares `capabilities.multiProcess === false`: the two would keep separate
 * metadata for one set of files.
 */
export class DirectoryInUseError extends ImgcacheError {
  constructor(
    readonly dir: string,
    readonly driverName: string,
    /** The process that holds it, when known. */
    readonly ownerPid: number | null,
    /** When it took the directory (ISO 8601), when known. */
    readonly since: string | null,
  ) {
    const owner =
      ownerPid === null
        ? 'another opener'
        : ownerPid === process.pid
          ? `another open cache of this process (pid ${ownerPid})`
          : `process ${ownerPid}`;
    super(
      'ERR_IMGCACHE_DIRECTORY_IN_USE',
      `Cache directory ${dir} is in use by ${owner}${since ? ` since ${since}` : ''}, and driver ${driverName} serves one process only. ` +
        'Close that cache first, or use a driver that several processes can share (sqlite, xattr).',
    );
  }
}
