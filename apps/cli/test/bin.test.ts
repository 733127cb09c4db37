import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, createSandbox, type Sandbox } from './helpers/run-cli.js';

// Smoke tests of the `imgcache` binary in a child process: what the in-process tests cannot
// see (the process's exit code, its real stdout and stderr pipes, EPIPE). Signals: see
// prefetch.test.ts (Ctrl-C); terminals: the runInTerminal cases.
let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

describe('the imgcache binary', () => {
  it('exits 0 with the version and the help on stdout, nothing on stderr', async () => {
    expect(await sandbox.runBin(['--version'])).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: '' });
    const help = await sandbox.runBin(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: imgcache /);
  });

  it('exits 2 on a usage error, with the message on stderr and nothing on stdout', async () => {
    const result = await sandbox.runBin(['no-such-command']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/unknown command 'no-such-command'/);
    await expect(access(sandbox.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 1 on a failed operation with one line on stderr, and the stack with --debug', async () => {
    expect(await sandbox.runBin(['get', 'missing'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'imgcache: error: Image missing is not cached.\n',
      stdoutBytes: Buffer.alloc(0),
    });
    const debug = await sandbox.runBin(['--debug', 'get', 'missing']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^NotCachedError: Image missing is not cached\.\n\s+at /);
  });

  it('reads an image from its stdin pipe and writes it to its stdout pipe, exit 0', async () => {
    const bytes = Buffer.alloc(300_000, 3);
    const cached = await sandbox.runBin(['--json', 'cache-image', 'piped', '-'], { input: bytes });
    expect(cached).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(cached.stdout)).toMatchObject({ imageId: 'piped', cached: true, size: bytes.length });
    const got = await sandbox.runBin(['get', 'piped']);
    expect(got).toMatchObject({ code: 0, stderr: '' });
    expect(got.stdoutBytes.equals(bytes)).toBe(true);
  });

  it('exits quietly when the reader of stdout goes away', async () => {
    await sandbox.run(['cache-image', 'big', '-'], { input: Buffer.alloc(4 * 1024 * 1024, 7) });
    // Closing the pipe after the first chunk is what `| head -c 10` does.
    const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'get', 'big'], {
        env: { ...process.env, ...sandbox.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (status) => resolve({ status, stderr }));
    });
    expect(result).toEqual({ status: 0, stderr: '' });
  });
});
