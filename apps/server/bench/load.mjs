// The HTTP load generator for the throughput rows: wrk when it is installed (it costs the
// shared cores least), else autocannon in this process. Both report the same figures.
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stopProcess, track } from './children.mjs';

// wrk's Lua hooks (wrk(1) SCRIPTING): done() prints the totals as one JSON line, and the
// unique variant's request() gives every request a new image id
// `<name>-<tag>-<thread>-<n>`, all in [A-Za-z0-9._-], so each request is a miss.
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_SUMMARY {"requests":%.0f,"bytes":%.0f,"durationUs":%.0f,"errors":%.0f}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
`;
const UNIQUE = `
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
local counter = 0
function init(args)
  image_name = args[1]
  run_tag = args[2]
end
function request()
  counter = counter + 1
  return wrk.format("GET", "/v2/images/" .. image_name .. "-" .. run_tag .. "-" .. thread_id .. "-" .. counter .. "/file")
end
${DONE}`;

/** `wrk 4.1.0 …` when wrk is on PATH, else null. */
function wrkVersion() {
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (probe.error) return null;
  return /wrk \S+/.exec(`${probe.stdout}${probe.stderr}`)?.[0] ?? 'wrk';
}

/**
 * The load generator: `{ name, minSeconds, run }`, minSeconds the shortest run it measures
 * well. `run({ url, name, unique, seconds, connections })` requests `/v2/images/<name>/file`
 * (or a new id per request when `unique`) for `seconds` and resolves with
 * `{ requests, bytes, seconds, errors }`: completed responses, bytes received (headers
 * included), the measured duration, and failed or non-2xx responses.
 * @param {string} work scratch directory for wrk's scripts
 */
export async function loadGenerator(work) {
  const wrk = wrkVersion();
  if (wrk) {
    await writeFile(join(work, 'fixed.lua'), DONE);
    await writeFile(join(work, 'unique.lua'), UNIQUE);
    return { name: wrk, minSeconds: 1, run: (options) => runWrk(work, options) };
  }
  // autocannon counts a response's bytes only once it is complete (wrk counts them as they
  // arrive), so its runs must be long enough for several large responses to finish.
  return { name: `autocannon ${autocannonVersion()} (wrk not installed)`, minSeconds: 3, run: runAutocannon };
}

let runs = 0;
const runTag = () => `${process.pid.toString(36)}${(++runs).toString(36)}${Date.now().toString(36)}`;

function runWrk(work, { url, name, unique = false, seconds, connections }) {
  const threads = Math.min(connections, 2);
  const args = [
    '-t',
    threads,
    '-c',
    connections,
    '-d',
    `${seconds}s`,
    '--timeout',
    '30s',
    '-s',
    join(work, unique ? 'unique.lua' : 'fixed.lua'),
  ];
  args.push(unique ? url : `${url}/v2/images/${name}/file`);
  if (unique) args.push('--', name, runTag());
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args.map(String), { stdio: ['ignore', 'pipe', 'pipe'] });
    const handle = track({
      pid: child.pid,
      stop: () => stopProcess(child, 2000),
      killNow: () => child.kill('SIGKILL'),
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 60) * 1000);
    child.once('error', (error) => {
      handle.release();
      reject(error);
    });
    // 'close', not 'exit': the summary may still be in the pipe when wrk exits.
    child.once('close', () => {
      handle.release();
      clearTimeout(timer);
      const line = /^WRK_SUMMARY (.*)$/m.exec(output);
      if (!line) return reject(new Error(`wrk ${args.join(' ')} printed no summary:\n${output}`));
      const summary = JSON.parse(line[1]);
      resolve({
        requests: summary.requests,
        bytes: summary.bytes,
        seconds: summary.durationUs / 1e6,
        errors: summary.errors,
      });
    });
  });
}

let autocannon;
function loadAutocannon() {
  if (autocannon) return autocannon;
  const require = createRequire(import.meta.url);
  // autocannon appends every response body to a string (PipelinedRequestsQueue#addBody),
  // which caps it near 75 MiB/s here whatever the server does. This benchmark never reads
  // bodies, so that bookkeeping is switched off; bytes are still counted from the socket.
  const PipelinedRequestsQueue = require('autocannon/lib/pipelinedRequestsQueue.js');
  PipelinedRequestsQueue.prototype.addBody = function addBody() {};
  autocannon = require('autocannon');
  return autocannon;
}

function autocannonVersion() {
  return createRequire(import.meta.url)('autocannon/package.json').version;
}

async function runAutocannon({ url, name, unique = false, seconds, connections }) {
  const path = `/v2/images/${name}/file`;
  const tag = runTag();
  let counter = 0;
  const result = await loadAutocannon()({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [
      unique
        ? {
            method: 'GET',
            path,
            setupRequest: (request) => ({ ...request, path: `/v2/images/${name}-${tag}-${++counter}/file` }),
          }
        : { method: 'GET', path },
    ],
  });
  return {
    requests: result.requests.total,
    bytes: result.throughput.total,
    seconds: result.duration,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}
