import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** PEM files of a throwaway CA, a certificate it signed for 127.0.0.1, and a client certificate it signed. */
export interface TestPki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  ca: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** Makes a CA and two certificates it signs (EC P-256: fast), and writes the files the server reads into `dir`. */
export async function createTestPki(dir: string): Promise<TestPki> {
  const ec = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;
  const ca = await generate([{ name: 'commonName', value: 'imgcache test CA' }], {
    ...ec,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const signer = { key: ca.private, cert: ca.cert };
  const server = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    ...ec,
    ca: signer,
    extensions: [
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      { name: 'extKeyUsage', serverAuth: true },
    ],
  });
  const client = await generate([{ name: 'commonName', value: 'imgcache-server test client' }], {
    ...ec,
    ca: signer,
    extensions: [{ name: 'extKeyUsage', clientAuth: true }],
  });
  const pki = {
    caFile: join(dir, 'ca.pem'),
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.private,
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client-key.pem'),
  };
  await writeFile(pki.caFile, ca.cert);
  await writeFile(pki.clientCertFile, client.cert);
  await writeFile(pki.clientKeyFile, client.private, { mode: 0o600 });
  return pki;
}

/**
 * An https image store on 127.0.0.1 that serves `GET /data/{id}` only to clients presenting
 * a certificate signed by the test CA, and records the client certificate's common name.
 */
export class TlsOrigin {
  readonly clients: string[] = [];
  url = '';
  private readonly server: Server;

  constructor(
    pki: TestPki,
    private readonly images: ReadonlyMap<string, Buffer>,
  ) {
    this.server = createServer(
      { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
      (request, response) => {
        const peer = (request.socket as TLSSocket).getPeerCertificate();
        this.clients.push(String(peer.subject?.CN));
        const id = /^\/data\/([^/]+)$/.exec(request.url ?? '')?.[1];
        const image = id === undefined ? undefined : this.images.get(decodeURIComponent(id));
        if (!image) return void response.writeHead(404).end();
        response
          .writeHead(200, {
            'content-length': image.length,
            'content-md5': createHash('md5').update(image).digest('base64'),
          })
          .end(image);
      },
    );
    // Handshakes that fail (a client without a certificate) must not crash the test.
    this.server.on('tlsClientError', () => undefined);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
