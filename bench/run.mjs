#!/usr/bin/env node
// `pnpm bench`: every benchmark, printed as tables. `--quick` shrinks sizes for a smoke run.
import { driverBench } from './drivers.mjs';
import { throughputBench } from './throughput.mjs';
import { GiB, MiB } from './lib.mjs';

const quick = process.argv.includes('--quick');
console.log(`imgcache benchmarks — node ${process.version}, ${quick ? 'quick' : 'full'} run`);
await throughputBench({ size: quick ? 64 * MiB : GiB, runs: quick ? 1 : 2 });
await driverBench(quick ? { scales: [2000], ops: 200 } : {});
try {
  const { serverBench } = await import('../apps/server/bench/server-bench.mjs');
  await serverBench({ quick });
} catch (error) {
  if (error.code === 'ERR_MODULE_NOT_FOUND') console.log('\n(server benchmark not available)');
  else throw error;
}
