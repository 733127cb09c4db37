import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArguments } from '../src/cli-options.js';
import { startServer } from '../src/server.js';
import { send } from './helpers/http-client.js';
import { createTestPki, TlsOrigin, type TestPki } from './helpers/tls-origin.js';

let root: string;
let pki: TestPki;
let origin: TlsOrigin;
const image = randomBytes(64 * 1024);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'imgcache-tls-'));
  pki = await createTestPki(root);
  origin = await new TlsOrigin(pki, new Map([['img-1', image]])).start();
});
afterAll(async () => {
  await origin?.stop();
  await rm(root, { recursive: true, force: true });
});

/** A server on the https origin from these extra flags, as the command line would start it. */
async function serverWith(name: string, flags: string[]) {
  const args = [
    '--origin',
    `${origin.url}/data/{id}`,
    '--dir',
    join(root, name),
    '--port',
    '0',
    '--public',
    '--min-free',
    '0',
    '--log-level',
    'silent',
    ...flags,
  ];
  return startServer(parseArguments(args, {}), { logger: false });
}

describe('origin TLS: a private CA and a client certificate', () => {
  it('fetches and caches from an https origin that requires both', async () => {
    const server = await serverWith('both', [
      '--origin-ca-file',
      pki.caFile,
      '--origin-cert-file',
      pki.clientCertFile,
      '--origin-key-file',
      pki.clientKeyFile,
    ]);
    try {
      const miss = await send(`${server.url}/v2/images/img-1/file`);
      expect(miss.status, miss.body.toString()).toBe(200);
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.body.equals(image)).toBe(true);
      const hit = await send(`${server.url}/v2/images/img-1/file`);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body.equals(image)).toBe(true);
      expect(origin.clients).toContain('imgcache-server test client');
    } finally {
      await server.close(1000);
    }
  });

  it('cannot reach it without the CA (the certificate is not trusted): 502', async () => {
    const server = await serverWith('no-ca', [
      '--origin-cert-file',
      pki.clientCertFile,
      '--origin-key-file',
      pki.clientKeyFile,
    ]);
    try {
      const response = await send(`${server.url}/v2/images/img-1/file`);
      expect(response.status).toBe(502);
      expect(response.body.toString()).toMatch(/certificate/i);
    } finally {
      await server.close(1000);
    }
  });

  it('is refused by it without the client certificate: 502', async () => {
    const server = await serverWith('no-client', ['--origin-ca-file', pki.caFile]);
    try {
      const served = origin.clients.length;
      const response = await send(`${server.url}/v2/images/img-1/file`);
      expect(response.status).toBe(502);
      expect(response.body.toString()).toMatch(/The origin could not be reached/);
      // The origin refused the handshake: its request handler never ran.
      expect(origin.clients).toHaveLength(served);
    } finally {
      await server.close(1000);
    }
  });
});
