import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Flags for Debian's Chromium headless as root, talking to loopback only: no sandbox (root),
 * no GPU, and none of the background requests a fresh profile would make.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium to drive (`command -v chromium`), or why there is none. */
export function findChromium(): { path: string } | { reason: string } {
  const found = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  const path = found.stdout.trim().split('\n')[0];
  if (found.status === 0 && path) return { path };
  return {
    reason:
      'no chromium on PATH (install it with `node scripts/ensure-test-tools.mjs` as root, or `apt-get install -y chromium`)',
  };
}

/** Starts Chromium with a fresh profile directory; `close` stops it and removes the profile. */
export async function launchChromium(
  executablePath: string,
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'imgcache-chromium-'));
  // A persistent context is how Playwright takes a user-data-dir of our choosing: a fresh one per run.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
