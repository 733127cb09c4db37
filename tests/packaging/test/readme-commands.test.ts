import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(join(REPO, path), 'utf8')) as T;
}

describe('the root README after `pnpm start`', () => {
  it('every `node <package>/dist/…` command it shows was built by `start`', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const { scripts } = await readJson<{ scripts: Record<string, string> }>('package.json');
    const built = [...scripts.start!.matchAll(/--filter=(\S+)/g)].map((match) => match[1]!.replace(/\.\.\.$/, ''));
    const packageDirs = new Set(
      [...readme.matchAll(/node ((?:apps|packages)\/[\w-]+)\/dist\//g)].map((match) => match[1]!),
    );
    expect(packageDirs.size).toBeGreaterThan(0);
    for (const dir of packageDirs) {
      const { name } = await readJson<{ name: string }>(join(dir, 'package.json'));
      expect(built, `README runs ${dir}/dist, but start builds only ${built.join(', ')}`).toContain(name);
    }
  });
});
