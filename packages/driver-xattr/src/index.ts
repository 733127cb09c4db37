import { createXattrDriver } from './xattr-driver.js';

export { DEFAULT_INDEX_DIR, XattrDriver, createXattrDriver } from './xattr-driver.js';
export type { XattrDriverOptions } from './xattr-driver.js';
export { ACCESS_ATTRIBUTE, ENTRY_ATTRIBUTE } from './attributes.js';
export default createXattrDriver;
