import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CliIo } from '../src/cli-io.js';
import { runProgram } from '../src/run-program.js';
import { createSandbox, type Sandbox } from './helpers/run-cli.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await sandbox.cleanup();
});

/** An io with only what is given: no variable of this process's environment reaches the run. */
function io(env: NodeJS.ProcessEnv, cwd: string, input = ''): CliIo & { out: () => string; err: () => string } {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const read = (stream: PassThrough) => () => String(stream.read() ?? '');
  return { stdin, stdout, stderr, env, cwd, out: read(stdout), err: read(stderr) };
}

describe('runProgram: one run of imgcache in this process', () => {
  it('resolves the status instead of exiting, and leaves process.exitCode alone', async () => {
    const run = io({ IMGCACHE_DIR: sandbox.dir }, sandbox.root);
    expect(await runProgram(['get', 'missing'], run)).toBe(1);
    expect(run.err()).toBe('imgcache: error: Image missing is not cached.\n');
    expect(await runProgram(['no-such-command'], run)).toBe(2);
    expect(run.err()).toMatch(/unknown command 'no-such-command'/);
    expect(await runProgram(['--version'], run)).toBe(0);
    expect(run.out()).toBe('0.1.0\n');
    expect(process.exitCode).toBeUndefined();
  });

  it('reads settings from its env, not from this process environment', async () => {
    vi.stubEnv('IMGCACHE_MAX_SIZE', '1K');
    vi.stubEnv('IMGCACHE_DIR', join(sandbox.root, 'from-process-env'));
    const run = io({ IMGCACHE_DIR: sandbox.dir, IMGCACHE_STALL_TIME: '1h' }, sandbox.root);
    expect(await runProgram(['--json', 'stats'], run)).toBe(0);
    expect(JSON.parse(run.out())).toMatchObject({ dir: sandbox.dir, maxSize: 10 * 1024 ** 3, stallTime: 3600 });
  });

  it('puts the default directory under its env HOME when XDG_CACHE_HOME is unset', async (context) => {
    if (process.platform === 'darwin' || process.platform === 'win32')
      return context.skip('the default directory is elsewhere there');
    const home = join(sandbox.root, 'home');
    const run = io({ HOME: home }, sandbox.root);
    expect(await runProgram(['--json', 'stats'], run)).toBe(0);
    expect(JSON.parse(run.out()).dir).toBe(join(home, '.cache', 'imgcache'));
  });

  it('resolves relative --dir, --config, files and -o against its cwd, not this process cwd', async () => {
    const cwd = join(sandbox.root, 'work');
    await mkdir(cwd);
    await writeFile(join(cwd, 'settings.json'), JSON.stringify({ maxSize: '5M' }));
    await writeFile(join(cwd, 'image.raw'), 'relative bytes');
    const run = io({}, cwd);
    expect(
      await runProgram(
        ['--dir', 'rel-cache', '--config', 'settings.json', '--json', 'cache-image', 'img', 'image.raw'],
        run,
      ),
    ).toBe(0);
    expect(JSON.parse(run.out())).toMatchObject({ imageId: 'img', size: 14 });
    expect(await runProgram(['--dir', 'rel-cache', '--json', 'get', 'img', '-o', 'copy.raw'], run)).toBe(0);
    expect(JSON.parse(run.out())).toEqual({ imageId: 'img', size: 14, output: 'copy.raw' });
    expect(await readFile(join(cwd, 'copy.raw'), 'utf8')).toBe('relative bytes');
    expect(await runProgram(['--dir', 'rel-cache', '--config', 'settings.json', '--json', 'stats'], run)).toBe(0);
    expect(JSON.parse(run.out())).toMatchObject({ dir: join(cwd, 'rel-cache'), maxSize: 5 * 1024 ** 2, count: 1 });
  });

  it('reads image bytes from its stdin', async () => {
    const run = io({ IMGCACHE_DIR: sandbox.dir }, sandbox.root, 'from stdin');
    expect(await runProgram(['cache-image', 'piped', '-'], run)).toBe(0);
    expect(run.out()).toBe(
      `Cached image piped (10 B, sha256:${createHash('sha256').update('from stdin').digest('hex')}).\n`,
    );
  });
});
