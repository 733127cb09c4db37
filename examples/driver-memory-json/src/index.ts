import { createMemoryJsonDriver } from './memory-json-driver.js';

export { DEFAULT_FILE_NAME, MemoryJsonDriver, createMemoryJsonDriver } from './memory-json-driver.js';
export type { MemoryJsonDriverOptions } from './memory-json-driver.js';
export default createMemoryJsonDriver;
