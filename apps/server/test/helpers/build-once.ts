import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Compiles src/ to dist/ so the subprocess tests run the code under test, never a stale build. */
export default function setup(): void {
  const packageDir = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit', timeout: 120_000 });
  execFileSync(process.execPath, ['scripts/copy-dashboard-assets.mjs'], { cwd: packageDir, stdio: 'inherit' });
}
