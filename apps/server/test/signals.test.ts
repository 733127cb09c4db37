import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeOrigin, originGate } from '@imgcache/test-origin';
import { handleSignals, type SignalProcess } from '../src/signals.js';
import { randomImage, startHarness } from './helpers/harness.js';
import { download, send } from './helpers/http-client.js';
import { ServerProcess } from './helpers/server-process.js';

let dir: string;
let origin: FakeOrigin;
let server: ServerProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgcache-signals-'));
  origin = await new FakeOrigin().start();
});

afterEach(async () => {
  await server?.kill();
  server = undefined;
  await origin.stop();
  await rm(dir, { recursive: true, force: true });
});

/** An image whose download stops after 256 KiB until `release()`; `reached` resolves when it stops. */
function gatedImage(imageId: string) {
  const data = randomImage(1024 * 1024);
  const { spec: gate, release, arrived: stopped } = originGate(256 * 1024);
  origin.add(imageId, { data, gate });
  return { sha256: createHash('sha256').update(data).digest('hex'), length: data.length, release, stopped };
}

describe('imgcache-server signals (real server process)', () => {
  // Before: SIGHUP ended the process at once (status 129), with no log line and no drain.
  it('SIGHUP is logged and changes nothing: the server keeps serving, a running download completes', async () => {
    server = await ServerProcess.start(['--origin', origin.url, '--dir', dir, '--min-free', '0']);
    const image = gatedImage('big');
    const client = download(`${server.url}/v2/images/big/file`);
    await image.stopped;
    server.signal('SIGHUP');
    const line = await server.waitForLog((entry) => entry.signal === 'SIGHUP');
    expect(line).toMatchObject({ level: 40, reloaded: [] });
    expect(line.msg).toMatch(/^SIGHUP received: nothing to reload, the server keeps running/);
    server.signal('SIGHUP');
    await server.waitForLog((entry) => entry.signal === 'SIGHUP' && entry !== line);
    expect(server.running).toBe(true);
    expect((await send(`${server.url}/healthz`)).status).toBe(200);
    image.release();
    expect(await client).toMatchObject({ status: 200, length: image.length, sha256: image.sha256 });
    expect(server.running).toBe(true);

    server.signal('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.lines.some((entry) => entry.msg === 'shutting down' && entry.signal === 'SIGTERM')).toBe(true);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s lets a running download finish, then exits 0', async (signal) => {
    server = await ServerProcess.start(['--origin', origin.url, '--dir', dir, '--min-free', '0']);
    const image = gatedImage('big');
    let firstByte!: () => void;
    const receiving = new Promise<void>((resolve) => (firstByte = resolve));
    const client = download(`${server.url}/v2/images/big/file`, { onFirstByte: firstByte });
    await image.stopped;
    // Drain covers downloads already streaming; one whose first byte has not left yet may
    // be refused or cut off (see the README's Signals section).
    await receiving;
    server.signal(signal);
    await server.waitForLog((entry) => entry.msg === 'shutting down' && entry.signal === signal);
    image.release();
    expect(await client).toMatchObject({ status: 200, length: image.length, sha256: image.sha256 });
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});

/** A stand-in for `process` that records exits and what was written to stderr. */
class FakeProcess extends EventEmitter implements SignalProcess {
  readonly exits: number[] = [];
  stderrText = '';
  readonly stderr = { write: (text: string) => (this.stderrText += text) };
  exit(code: number): void {
    this.exits.push(code);
  }
}

describe('signals that arrive while the server starts', () => {
  it('SIGHUP before the server is up is reported and ignored; SIGTERM stops the server once it is up', async () => {
    const proc = new FakeProcess();
    const signals = handleSignals(proc);
    proc.emit('SIGHUP');
    proc.emit('SIGTERM');
    expect(proc.exits).toEqual([]);
    expect(proc.stderrText).toContain('imgcache-server: SIGHUP received: nothing to reload');
    expect(proc.stderrText).toContain(
      'imgcache-server: SIGTERM received while starting; stopping as soon as the cache is open',
    );
    const harness = await startHarness();
    try {
      signals.attach(harness.server);
      await harness.server.close();
      expect(proc.exits).toEqual([0]);
      await expect(send(`${harness.server.url}/healthz`)).rejects.toThrow();
    } finally {
      await harness.stop();
    }
  });
});
