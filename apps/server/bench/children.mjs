// The server benchmark's child processes: each server runs in one of its own, and every one
// started here is stopped by stopAll(), on a signal, or (SIGKILL) when the bench exits.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const live = new Set();

process.once('exit', () => {
  for (const entry of live) entry.killNow();
});

/**
 * Registers a running process so stopAll() and exit stop it. `stop` ends it politely and
 * must resolve once it is gone; `killNow` is the synchronous last resort. The returned
 * handle's `release()` forgets a process that ended by itself.
 */
export function track(entry) {
  live.add(entry);
  return {
    ...entry,
    async stop() {
      live.delete(entry);
      await entry.stop();
    },
    release: () => live.delete(entry),
  };
}

/** SIGKILLs every tracked process at once (the last resort when stopping hangs). */
export function killAllNow() {
  for (const entry of live) entry.killNow();
  live.clear();
}

/** Stops every tracked process, most recently started first. */
export async function stopAll() {
  for (const entry of [...live].reverse()) {
    live.delete(entry);
    await entry.stop().catch(() => entry.killNow());
  }
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stopProcess(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts `node <args>` and resolves once its stdout matches `pattern` (group 1 is the URL).
 * Keeps the last lines of output to explain a failure.
 * @returns {Promise<{url: string, pid: number, stop: () => Promise<void>}>}
 */
export function startNode(args, pattern, { name = args[0], timeoutMs = 20_000, env = process.env } = {}) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const entry = track({ pid: child.pid, stop: () => stopProcess(child), killNow: () => child.kill('SIGKILL') });
  let tail = '';
  const keep = (chunk) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const fail = async (why) => {
      clearTimeout(timer);
      await entry.stop();
      reject(new Error(`${name} ${why}\n${tail}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    const early = (code, signal) => fail(`exited (${signal ?? code}) before listening`);
    child.once('exit', early);
    let listening = false;
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      const match = listening ? null : pattern.exec(tail);
      if (!match) return;
      listening = true;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({ ...entry, url: match[1], output: () => tail });
    });
  });
}

/** A baseline from plain-servers.mjs: `static <dir>` or `proxy <originUrl>`. */
export function startPlain(mode, target) {
  return startNode([join(here, 'plain-servers.mjs'), mode, target], /LISTENING (\S+)/, {
    name: `plain ${mode} server`,
  });
}

/**
 * imgcache-server from this package's build (dist/bin.js), public (no origin
 * authorisation), with maintenance off so nothing but the load runs.
 * @param {object} options `extraArgs`: more flags; `nodeOptions`: NODE_OPTIONS for the
 *   process (as a deployment sets them), none by default; `nodeArgs`: Node flags that
 *   NODE_OPTIONS refuses (`--cpu-prof`)
 */
export function startImgcache({
  originUrl,
  dir,
  checksumAlgorithm = 'sha256',
  extraArgs = [],
  nodeOptions = '',
  nodeArgs = [],
  label = checksumAlgorithm,
}) {
  return startNode(
    [
      ...nodeArgs,
      join(here, '..', 'dist', 'bin.js'),
      '--origin',
      `${originUrl}/v2/images/{id}/file`,
      '--port',
      '0',
      '--dir',
      dir,
      '--max-size',
      '64G',
      '--min-free',
      '1G',
      '--checksum-algorithm',
      checksumAlgorithm,
      '--public',
      '--maintenance-interval',
      '0',
      '--log-level',
      'info',
      ...extraArgs,
    ],
    /"url":"(http:\/\/[^"]+)"/,
    { name: `imgcache-server (${label})`, env: { ...process.env, NODE_OPTIONS: nodeOptions } },
  );
}

/**
 * Stops every tracked process (and runs `cleanup`) if a benchmark overstays `seconds`, or on
 * SIGINT/SIGTERM, then exits; a stop that hangs is cut short by SIGKILL after 20 s.
 * @param {string} name what to call the run in the message
 * @param {number} seconds the run's time limit
 * @param {() => void} cleanup synchronous removal of the run's scratch files
 * @returns {() => void} the disarm, for a run that ended in time
 */
export function guard(name, seconds, cleanup) {
  const abandon = (why, code) => {
    console.error(`\n${name}: ${why}; stopping its processes`);
    const end = () => {
      killAllNow();
      cleanup();
      process.exit(code);
    };
    setTimeout(end, 20_000).unref();
    stopAll().finally(end);
  };
  const timer = setTimeout(() => abandon(`still running after ${seconds} s`, 1), seconds * 1000);
  timer.unref();
  const onSignal = (signal) => abandon(`got ${signal}`, 130);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
