import { createSqliteDriver } from './sqlite-driver.js';

export { SqliteDriver, createSqliteDriver } from './sqlite-driver.js';
export type { SqliteDriverOptions } from './sqlite-driver.js';
export default createSqliteDriver;
