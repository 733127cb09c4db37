import { DRIVER_CONTRACT_VERSION, type Driver, type DriverCapabilities } from './driver.js';

const REQUIRED_METHODS = [
  'get',
  'list',
  'stats',
  'commit',
  'recordHit',
  'remove',
  'removeAll',
  'leastRecentlyUsed',
  'close',
] as const satisfies readonly (keyof Driver)[];

const CAPABILITIES = ['multiProcess', 'multiProcessHits'] as const satisfies readonly (keyof DriverCapabilities)[];

/**
 * Names of the contract members `value` lacks or gets wrong, and any version mismatch.
 * @returns one phrase per problem (`it has no get() method`); empty when it fits.
 */
export function driverContractProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['it is not an object'];
  const candidate = value as Partial<Record<keyof Driver, unknown>>;
  const problems: string[] = [];
  if (candidate.contractVersion !== DRIVER_CONTRACT_VERSION) {
    problems.push(
      `it was built for contract version ${String(candidate.contractVersion)}, this core speaks version ${DRIVER_CONTRACT_VERSION}`,
    );
  }
  if (typeof candidate.name !== 'string' || candidate.name.length === 0) problems.push('it has no name');
  const capabilities = candidate.capabilities as Partial<Record<string, unknown>> | undefined;
  for (const capability of CAPABILITIES) {
    if (typeof capabilities?.[capability] !== 'boolean')
      problems.push(`it does not declare capabilities.${capability} (true or false)`);
  }
  if (candidate.recordHits !== undefined && typeof candidate.recordHits !== 'function')
    problems.push('its recordHits is not a method');
  for (const method of REQUIRED_METHODS) {
    if (typeof candidate[method] !== 'function') problems.push(`it has no ${method}() method`);
  }
  return problems;
}
