// Vitest global setup for packages whose tests run their built binary (apps/cli, apps/server):
// compiles src/ to dist/ so those tests never run a stale build, and skips the compile when
// every file in dist/ is newer than every input (as after `turbo run build`, which CI runs
// first), which saves a tsc run per package.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** mtimes (ms) of the files under `dir`, recursively; none when it does not exist. */
function mtimes(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((entry) => entry.isFile()).map((entry) => statSync(join(entry.parentPath, entry.name)).mtimeMs);
}

/** @param {{ config: { root: string } }} project the Vitest project being set up */
export default function setup(project) {
  const packageDir = project.config.root;
  const inputs = [
    ...mtimes(join(packageDir, 'src')),
    ...['tsconfig.build.json', '../../tsconfig.base.json'].map((name) => statSync(join(packageDir, name)).mtimeMs),
  ];
  const outputs = mtimes(join(packageDir, 'dist'));
  if (outputs.length > 0 && Math.min(...outputs) > Math.max(...inputs)) return;
  const tsc = createRequire(join(packageDir, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: packageDir,
    stdio: 'inherit',
    timeout: 120_000,
  });
  // Files tsc does not emit (the server dashboard's HTML, CSS and JS) are copied by the
  // package's own step, the one its build script runs.
  const copyAssets = join(packageDir, 'scripts', 'copy-assets.mjs');
  if (existsSync(copyAssets)) execFileSync(process.execPath, [copyAssets], { cwd: packageDir, stdio: 'inherit' });
}
