import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeOrigin } from '@imgcache/test-origin';
import type { ServerConfig } from '../../src/config.js';
import { startServer, type CreateServerOptions, type ImageServer } from '../../src/server.js';

export interface Harness {
  origin: FakeOrigin;
  server: ImageServer;
  dir: string;
  url: (path: string) => string;
  stop: () => Promise<void>;
}

/** A fake Glance origin and an imgcache server in front of it, on ephemeral ports. */
export async function startHarness(
  overrides: Partial<ServerConfig> = {},
  origin?: FakeOrigin,
  options: CreateServerOptions = {},
): Promise<Harness> {
  const fakeOrigin = origin ?? (await new FakeOrigin().start());
  const dir = await mkdtemp(join(tmpdir(), 'imgcache-server-'));
  const server = await startServer(
    {
      origin: fakeOrigin.url,
      host: '127.0.0.1',
      port: 0,
      dir,
      driver: 'sqlite',
      maxSize: 1024 ** 3,
      minFree: { bytes: 0 },
      stallTime: 86_400,
      checksumAlgorithm: 'sha256',
      public: false,
      authTtl: 60,
      prefetchConcurrency: 2,
      maintenanceInterval: 0,
      logLevel: 'silent',
      rangeMiss: 'fill',
      ...overrides,
    },
    { logger: false, ...options },
  );
  return {
    origin: fakeOrigin,
    server,
    dir,
    url: (path) => `${server.url}${path}`,
    stop: async () => {
      await server.close(2000);
      if (!origin) await fakeOrigin.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A logger destination that keeps every JSON line the server logs. */
export function logCollector(): { lines: Record<string, unknown>[]; stream: { write(line: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

export function randomImage(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Polls `condition` every 10 ms, up to `attempts` times. */
export async function waitFor(condition: () => boolean | Promise<boolean>, attempts = 500): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met in time');
}
