// Alternating rounds: every contender runs once per round, in an order rotated each round, so
// none always runs first, last or after the same neighbour on the shared cores.
import { cpuSplit } from './proc-stats.mjs';
import { median, micros } from './format.mjs';

/**
 * Runs `rounds` rounds of one load run per contender and summarises each contender's runs.
 * @param {{key: string, url: string, pids: number[]}[]} contenders pids: whose CPU time to count
 * @param {object} options `load` (from loadGenerator), `name` and `size` (bytes) of the image,
 *   `unique` (a new image id per request), `seconds` and `connections` per run, `rounds`,
 *   `beforeRun` (awaited before each run, outside the measurement)
 * @returns {Promise<Record<string, {bytesPerSecond: number, requestsPerSecond: number,
 *   cpuPerRequestUs: number|null, kernelShare: number|null, requests: number, errors: number,
 *   runs: object[]}>>} medians of the runs. CPU per request is all CPU time over the images
 *   served, counted as bytes / size: the responses a run cuts off at its end count by the
 *   share they got. kernelShare: the part of that CPU time spent in the kernel (0–1).
 */
export async function alternate(
  contenders,
  { load, name, size, unique = false, seconds, connections, rounds, beforeRun },
) {
  /** @type {Map<string, any[]>} */
  const runs = new Map(contenders.map((contender) => [contender.key, []]));
  for (let round = 0; round < rounds; round++) {
    const shift = round % contenders.length;
    for (const contender of [...contenders.slice(shift), ...contenders.slice(0, shift)]) {
      await beforeRun?.();
      const before = cpuSplit(contender.pids);
      const result = await load.run({ url: contender.url, name, unique, seconds, connections });
      const after = cpuSplit(contender.pids);
      runs.get(contender.key)?.push({
        ...result,
        bytesPerSecond: result.bytes / result.seconds,
        requestsPerSecond: result.requests / result.seconds,
        cpuUs: before === null || after === null ? null : after.total - before.total,
        systemUs: before === null || after === null ? null : after.system - before.system,
      });
    }
  }
  /** @type {Record<string, any>} */
  const summary = {};
  for (const [key, list] of runs) {
    const requests = list.reduce((sum, run) => sum + run.requests, 0);
    const served = list.reduce((sum, run) => sum + run.bytes, 0) / size;
    const cpu = list.some((run) => run.cpuUs === null) ? null : list.reduce((sum, run) => sum + run.cpuUs, 0);
    const system = cpu === null ? null : list.reduce((sum, run) => sum + run.systemUs, 0);
    summary[key] = {
      bytesPerSecond: median(list.map((run) => run.bytesPerSecond)),
      requestsPerSecond: median(list.map((run) => run.requestsPerSecond)),
      cpuPerRequestUs: cpu === null || served === 0 ? null : cpu / served,
      kernelShare: cpu === null || system === null || cpu === 0 ? null : system / cpu,
      requests,
      errors: list.reduce((sum, run) => sum + run.errors, 0),
      runs: list.map(
        ({
          bytesPerSecond,
          requestsPerSecond,
          requests: count,
          bytes,
          seconds: runSeconds,
          errors,
          cpuUs,
          systemUs,
        }) => ({
          bytesPerSecond,
          requestsPerSecond,
          requests: count,
          bytes,
          seconds: runSeconds,
          errors,
          cpuUs,
          systemUs,
        }),
      ),
    };
  }
  return summary;
}

/** Table cells for a contender's summary: MB/s, req/s, CPU per request, errors. */
export function figureCells(stats) {
  const kernel =
    stats.kernelShare === null || stats.kernelShare === undefined
      ? ''
      : ` (${Math.round(stats.kernelShare * 100)} % kernel)`;
  return [
    (stats.bytesPerSecond / 1e6).toFixed(0),
    stats.requestsPerSecond.toFixed(stats.requestsPerSecond < 100 ? 1 : 0),
    `${micros(stats.cpuPerRequestUs)}${kernel}`,
    String(stats.errors),
  ];
}

/** The table header matching figureCells. */
export const FIGURE_HEADERS = ['MB/s', 'req/s', 'CPU/request', 'errors'];
