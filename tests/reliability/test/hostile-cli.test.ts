import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidImageId } from '@imgcache/core';
import { tempDir } from './helpers.js';

const cliBin = join(dirname(createRequire(import.meta.url).resolve('@imgcache/cli/package.json')), 'dist', 'bin.js');

const traversal = fc.oneof(
  fc
    .array(fc.constantFrom('..', '/', '\\', '%2e%2e%2f', 'etc', 'passwd', '.', 'images', '\u00e9', '\u{1F600}'), {
      minLength: 1,
      maxLength: 6,
    })
    .map((parts) => parts.join('')),
  fc.string({ minLength: 256, maxLength: 300 }),
  fc.constantFrom('', '.', '..', '../outside', 'a/b', 'a\\b', 'cache.sqlite/../x'),
);

describe('hostile image ids against the CLI', () => {
  it('every invalid id exits 1 with a clear message and touches nothing', async () => {
    const { dir: parent, dispose } = await tempDir('hostile-cli');
    const cacheDir = join(parent, 'cache');
    const file = join(parent, 'image.bin');
    await writeFile(file, 'bytes');
    const before = (await readdir(parent)).sort();
    try {
      await fc.assert(
        fc.asyncProperty(
          traversal.filter((id) => !isValidImageId(id) && !id.includes('\0') && !id.startsWith('-')),
          async (id) => {
            for (const args of [
              ['get', id],
              ['queue-image', id],
              ['delete-cached-image', id],
              ['cache-image', id, file],
            ]) {
              const run = spawnSync(process.execPath, [cliBin, '--dir', cacheDir, ...args], {
                encoding: 'utf8',
                timeout: 20_000,
              });
              expect(run.status).toBe(1);
              expect(run.stderr).toMatch(/Invalid image id/);
              expect(run.stderr).not.toMatch(/\n\s+at /);
            }
            expect(existsSync(cacheDir)).toBe(false);
            expect((await readdir(parent)).sort()).toEqual(before);
          },
        ),
        { numRuns: 15, seed: 20261125 },
      );
    } finally {
      await dispose();
    }
  });
});
