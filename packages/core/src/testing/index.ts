export { MemoryDriver, createMemoryDriver } from './memory-driver.js';
export type { MemoryDriverOptions } from './memory-driver.js';
