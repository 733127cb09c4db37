import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArguments } from '../src/cli-options.js';
import { FakeOrigin } from '@imgcache/test-origin';
import { randomImage } from './helpers/harness.js';
import { send } from './helpers/http-client.js';
import { BIN, cleanEnv, runServerToExit, ServerProcess } from './helpers/server-process.js';

/** Runs the binary until its stdout has a line matching `until`, then stops it; returns all of stdout. */
async function stdoutUntil(
  args: string[],
  env: Record<string, string>,
  act: (url: string) => Promise<void>,
  until: RegExp,
): Promise<string> {
  const child = spawn(process.execPath, [BIN, '--host', '127.0.0.1', '--port', '0', ...args], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  const seen = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout);
        if (match) {
          child.stdout.off('data', check);
          resolve(match);
        }
      };
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        check();
      });
      child.once('close', () => reject(new Error(`exited without ${pattern}; stdout: ${stdout}`)));
      check();
    });
  try {
    const listening = await seen(/listening.*?(http:\/\/127\.0\.0\.1:\d+)/);
    await act(listening[1]!);
    await seen(until);
    return stdout;
  } finally {
    child.kill('SIGKILL');
  }
}

describe('--log-format', () => {
  let origin: FakeOrigin;
  let dir: string;
  beforeAll(async () => {
    origin = await new FakeOrigin().start();
    origin.add('pretty-img', { data: randomImage(5000) });
    dir = await mkdtemp(join(tmpdir(), 'imgcache-log-format-'));
  });
  afterAll(async () => {
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is json by default: one object per line with an ISO time, and a request line for a download', async () => {
    const server = await ServerProcess.start(['--origin', origin.url, '--dir', join(dir, 'json'), '--public']);
    try {
      expect((await send(`${server.url}/v2/images/pretty-img/file`)).status).toBe(200);
      const line = await server.waitForLog((candidate) => candidate.msg === 'request');
      expect(line).toMatchObject({
        level: 30,
        method: 'GET',
        path: '/v2/images/pretty-img/file',
        status: 200,
        bytes: 5000,
        xCache: 'MISS',
        imageId: 'pretty-img',
      });
      expect(String(line.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    } finally {
      await server.kill();
    }
  });

  it('pretty (flag or IMGCACHE_LOG_FORMAT) writes one readable line per entry, not JSON', async () => {
    const download = async (url: string) =>
      void expect((await send(`${url}/v2/images/pretty-img/file`)).status).toBe(200);
    for (const [args, env] of [
      [['--log-format', 'pretty'], {}],
      [[], { IMGCACHE_LOG_FORMAT: 'pretty' }],
    ] as const) {
      const stdout = await stdoutUntil(
        ['--origin', origin.url, '--dir', join(dir, 'pretty'), '--public', ...args],
        env,
        download,
        /INFO.*request.*\n/,
      );
      const line = stdout.split('\n').find((candidate) => / request /.test(candidate))!;
      expect(line).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: request /);
      expect(line).toContain('"method":"GET"');
      expect(line).toMatch(/"xCache":"(MISS|HIT)"/);
      expect(line).toContain('"imageId":"pretty-img"');
      expect(() => JSON.parse(line)).toThrow();
    }
  });

  it('refuses an unknown format with exit code 2, naming the flag or the variable', () => {
    expect(parseArguments(['--origin', 'http://x', '--dir', '/tmp/c'])).toMatchObject({
      logFormat: 'json',
      authStale: 0,
    });
    expect(
      parseArguments(['--origin', 'http://x', '--dir', '/tmp/c', '--log-format', 'PRETTY', '--auth-stale', '300']),
    ).toMatchObject({ logFormat: 'pretty', authStale: 300 });
    const flag = runServerToExit(['--origin', origin.url, '--dir', dir, '--log-format', 'xml']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/--log-format/);
    const variable = runServerToExit(['--origin', origin.url, '--dir', dir], { IMGCACHE_LOG_FORMAT: 'xml' });
    expect(variable.status).toBe(2);
    expect(variable.stderr).toMatch(/IMGCACHE_LOG_FORMAT/);
    const stale = runServerToExit(['--origin', origin.url, '--dir', dir, '--auth-stale', '-1']);
    expect(stale.status).toBe(2);
    expect(stale.stderr).toMatch(/--auth-stale/);
  });
});
