import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attw,
  fileProblems,
  manifestProblems,
  packAll,
  publint,
  publishablePackages,
  tarballFiles,
  tarballManifest,
} from '../../../scripts/check-packages.mjs';

// Built packages only: turbo builds every package this one depends on before its tests.
const packages = await publishablePackages();

describe('packed tarballs', () => {
  let packedDir = '';
  let tarballs = new Map<string, string>();

  beforeAll(async () => {
    const result = await packAll();
    packedDir = result.dir;
    tarballs = new Map([...result.packed].map(([name, { tarball }]) => [name, tarball]));
  });

  afterAll(async () => {
    if (packedDir) await rm(packedDir, { recursive: true, force: true });
  });

  it('covers every library package', () => {
    const names = packages.map((pkg) => pkg.name);
    for (const name of [
      '@imgcache/core',
      '@imgcache/driver-sqlite',
      '@imgcache/driver-xattr',
      '@imgcache/driver-test-suite',
    ]) {
      expect(names).toContain(name);
    }
  });

  for (const pkg of packages) {
    it(`${pkg.name} holds only dist/, package.json, README, CHANGELOG and LICENSE`, async () => {
      const tarball = tarballs.get(pkg.name)!;
      const files = await tarballFiles(tarball);
      const manifest = await tarballManifest(tarball);
      expect(fileProblems(files, manifest)).toEqual([]);
      expect(
        files.every((file: string) => /^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE$)/.test(file)),
      ).toBe(true);
    });

    it(`${pkg.name} has a release-ready package.json with workspace: ranges rewritten`, async () => {
      const manifest = await tarballManifest(tarballs.get(pkg.name)!);
      expect(manifestProblems(manifest)).toEqual([]);
      expect(manifest.version).toBe(pkg.manifest.version);
      expect(manifest.engines).toEqual({ node: '>=20' });
      // pnpm turns workspace:^ into ^<version>, workspace:* into <version>, and keeps explicit ranges.
      for (const field of ['dependencies', 'peerDependencies'] as const) {
        for (const [name, range] of Object.entries<string>(pkg.manifest[field] ?? {})) {
          if (!range.startsWith('workspace:')) continue;
          const version = packages.find((other) => other.name === name)?.manifest.version;
          const stripped = range.slice('workspace:'.length);
          const expected =
            stripped === '*' ? version : stripped === '^' || stripped === '~' ? `${stripped}${version}` : stripped;
          expect(manifest[field][name], `${field}.${name}`).toBe(expected);
        }
      }
    });

    it(`${pkg.name} passes publint and attw`, async () => {
      const tarball = tarballs.get(pkg.name)!;
      // Each rejects with the tool's report when the tool exits non-zero.
      await expect(publint(tarball)).resolves.toMatch(/All good/);
      const report = await attw(tarball);
      expect(report).toContain(pkg.name);
      // The resolutions an ESM-only package promises: importing from Node and from bundlers.
      expect(report).not.toMatch(/^(node16 \(from ESM\)|bundler): (?!OK)/m);
    });
  }
});
