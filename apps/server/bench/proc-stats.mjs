// What the server benchmark reads about its children from Linux's /proc (proc(5)): CPU time
// and resident memory. Everything here returns null where /proc is missing, so the bench
// prints "n/a" instead of failing on another OS.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux). */
export const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name, which may itself contain spaces. */
function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU time of `pids` so far, in µs: in user space, in the kernel (system calls: copies to and
 * from sockets and files), and both. Null when a process is gone.
 * @returns {{user: number, system: number, total: number} | null}
 */
export function cpuSplit(pids) {
  try {
    let user = 0;
    let system = 0;
    for (const pid of pids) {
      const fields = statFields(pid);
      user += Number(fields[11]);
      system += Number(fields[12]);
    }
    const micros = (ticks) => (ticks * 1e6) / clockTicks;
    return { user: micros(user), system: micros(system), total: micros(user + system) };
  } catch {
    return null;
  }
}

/** Process ids whose parent is `pid` (nginx's workers under its master). */
export function childPids(pid) {
  const found = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (Number(statFields(entry)[1]) === pid) found.push(Number(entry));
      } catch {
        // The process ended while we looked.
      }
    }
  } catch {
    return [];
  }
  return found;
}

/** One `VmXXX:  123 kB` line of /proc/<pid>/status, in bytes, or null. */
function statusBytes(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Current resident set size of a process in bytes (VmRSS), or null. */
export const rssBytes = (pid) => statusBytes(pid, 'VmRSS');

/**
 * Watches the peak resident set of one process from now on. The kernel's own peak (VmHWM)
 * is reset first by writing 5 to /proc/<pid>/clear_refs (Linux ≥ 4.0); VmRSS is also polled
 * every `intervalMs`, in case the reset is not allowed. `stop()` returns
 * `{ hwm, polled }` in bytes (hwm null when it could not be reset).
 */
export function watchPeakRss(pid, intervalMs = 50) {
  let hwmReset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmReset = false;
  }
  let polled = statusBytes(pid, 'VmRSS') ?? 0;
  const timer = setInterval(() => {
    polled = Math.max(polled, statusBytes(pid, 'VmRSS') ?? 0);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      polled = Math.max(polled, statusBytes(pid, 'VmRSS') ?? 0);
      return { hwm: hwmReset ? statusBytes(pid, 'VmHWM') : null, polled: polled || null };
    },
  };
}
