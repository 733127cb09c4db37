import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/paused-commit.mjs', import.meta.url));

/**
 * A writer in another process, stopped between placing its file in images/ and committing
 * its metadata (fixtures/paused-commit.mjs). `resume` lets it commit and resolves with what
 * it printed.
 */
export async function pausedWriter(
  dir: string,
  driver: string,
  imageId: string,
  size: number,
  mode: 'fresh' | 'replace',
): Promise<{ resume: () => Promise<string> }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
    fixture,
    dir,
    driver,
    imageId,
    String(size),
    mode,
  ]);
  let out = '';
  let err = '';
  child.stderr.on('data', (data) => (err += data));
  const exited = new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`writer exited ${code}: ${err}`))));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data) => {
      out += data;
      if (out.includes('paused\n')) resolve();
    });
    exited.catch(reject);
  });
  return {
    async resume() {
      child.stdin.end('go\n');
      return exited;
    },
  };
}
