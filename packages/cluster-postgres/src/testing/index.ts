export {
  createTestDatabase,
  freePort,
  startTestPostgres,
  type TestPostgres,
  type TestPostgresResult,
} from './test-postgres.js';
export { TcpGate } from './tcp-gate.js';
