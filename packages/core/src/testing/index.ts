export { MemoryDriver, createMemoryDriver } from './memory-driver.js';
