export { ImageCache } from './image-cache.js';
export type {
  CachedImage,
  CleanResult,
  FillOptions,
  ImageCacheOptions,
  ReadOptions,
  VerifyFailure,
  VerifyResult,
} from './image-cache.js';
export { DRIVER_CONTRACT_VERSION } from './driver.js';
export type {
  CacheEntry,
  CreateDriver,
  Driver,
  DriverCapabilities,
  DriverContext,
  DriverContractVersion,
  DriverFactory,
  DriverStats,
  HitBatch,
  LruEntry,
  NewCacheEntry,
} from './driver.js';
export { driverContractProblems } from './driver-problems.js';
export {
  DEFAULT_DRIVER_PACKAGE,
  FIRST_PARTY_DRIVERS,
  checkDriverSpec,
  driverPackageName,
  loadDriver,
} from './load-driver.js';
export type { DriverSpec, Importer, LoadDriverOptions, LoadedDriver } from './load-driver.js';
export { CORE_DIRECTORY_NAMES, CacheLayout, isCoreDirectoryName } from './layout.js';
// Small helpers drivers share with core, so they need not copy them.
export { errnoCode, isProcessAlive, removeFile } from './io/fs-errors.js';
export { PROCESS_LOCK_FILE } from './process-lock.js';
export { forEachLimited, mapLimited } from './limited.js';
export {
  MAX_KEY_LENGTH,
  MAX_NAME_BYTES,
  nameKey,
  parseQuarantineName,
  parseWorkFileName,
  quarantineName,
  workFileName,
} from './names.js';
export type { ClaimName, QuarantineCause } from './names.js';
export { listQuarantined } from './quarantine.js';
export type { QuarantinedFile } from './quarantine.js';
export { describeRepair } from './repairs.js';
export type { Repair } from './repairs.js';
export { assertValidImageId, isValidImageId, MAX_IMAGE_ID_LENGTH } from './image-id.js';
export { CHECKSUM_ALGORITHMS, MultiHasher, formatChecksum, parseChecksum } from './checksum.js';
export type { ChecksumAlgorithm, ParsedChecksum } from './checksum.js';
export { parseContentMd5 } from './content-md5.js';
export type { ImageSource, CommittedImage, FillExpectations } from './fill.js';
export { Fill } from './fill.js';
export type { FillOutcome, FillSource, FillStartResult } from './fill-registry.js';
export type { OpenFilesOptions, OpenImage } from './open-files.js';
export { HIT_FLUSH_INTERVAL_MS } from './hit-recorder.js';
export { BufferPool, READ_BUFFER_BYTES, readBuffers } from './io/buffer-pool.js';
export type { PruneResult } from './prune.js';
export type { ReconcileReport } from './reconcile.js';
export {
  CACHE_SETTINGS,
  FALSE_WORDS,
  SERVER_ONLY_SETTINGS,
  TRUE_WORDS,
  describeSettingOrigin,
  parseBoolean,
  parseChoice,
  parseDriverName,
  readEnvSetting,
} from './settings.js';
export type { SettingOrigin, SettingSource } from './settings.js';
export { parseDuration, parseSize } from './setting-values.js';
export { readConfigFile } from './config-file.js';
export { readSecretFile } from './secret-file.js';
export { BUDGET_FILE, readRememberedBudget, rememberBudget } from './budget-file.js';
export type { RememberedBudget } from './budget-file.js';
export { openConfiguredCache } from './open-configured-cache.js';
export type { CacheSettings, OpenConfiguredCacheOptions } from './open-configured-cache.js';
export { silentLogger, stderrLogger } from './logger.js';
export type { Logger } from './logger.js';
export {
  CacheClosedError,
  CacheDirectoryError,
  ConfigFileError,
  ChecksumMismatchError,
  DirectoryInUseError,
  DriverConfigError,
  DriverContractError,
  DriverLoadError,
  DriverNotFoundError,
  DriverStoreError,
  FillAbortedError,
  FillUnavailableError,
  ImgcacheError,
  InvalidChecksumError,
  InvalidImageIdError,
  InvalidOptionError,
  InvalidSettingError,
  NotCachedError,
  SizeMismatchError,
} from './errors.js';
export type { ImgcacheErrorCode } from './errors.js';
