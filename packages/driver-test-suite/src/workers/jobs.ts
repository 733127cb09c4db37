import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverModule } from '../options.js';

/** What one child process does on the shared root. */
export interface WorkerJob {
  module: string;
  exportName?: string | undefined;
  options?: Record<string, unknown> | undefined;
  root: string;
  /**
   * `crash`: commits `count` entries `<name>-<n>` (files first), then kills itself with SIGKILL.
   * `share`: commits them, records a hit on `shared` after each, removes the even-numbered
   * ones and closes.
   */
  task: 'crash' | 'share';
  name: string;
  count: number;
}

/** Longest a worker may run, so a hung driver fails the test instead of holding CI. */
const WORKER_TIMEOUT_MS = 60_000;

/**
 * Runs one job in a child process.
 * @returns how the process ended: its exit code, or the signal that killed it.
 * @throws when the process fails to start or writes an error and exits non-zero.
 */
export function runWorker(
  driverModule: DriverModule,
  job: Omit<WorkerJob, 'module' | 'exportName' | 'options'>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const full: WorkerJob = {
    ...job,
    module: driverModule.module instanceof URL ? driverModule.module.href : driverModule.module,
    exportName: driverModule.exportName,
    options: driverModule.options,
  };
  const script = fileURLToPath(new URL('./driver-worker.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(full)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data) => (stderr += data));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, WORKER_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut)
        reject(
          new Error(`driver worker ${job.name} ran longer than ${WORKER_TIMEOUT_MS} ms and was killed: ${stderr}`),
        );
      // A crash job ends by SIGKILL on purpose.
      else if (code !== 0 && !(job.task === 'crash' && signal === 'SIGKILL'))
        reject(new Error(`driver worker ${job.name} exited with ${code ?? signal}: ${stderr}`));
      else resolve({ code, signal });
    });
  });
}
