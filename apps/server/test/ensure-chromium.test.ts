import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../scripts/ensure-chromium.mjs', import.meta.url));
const isRoot = process.getuid?.() === 0;

/**
 * A PATH with only `sh` and a fake `apt-get` that logs its arguments: `install` fails until
 * `update` has run (an empty package list), then puts a `chromium` next to itself.
 */
async function fakeDebian(): Promise<{ bin: string; log: string }> {
  const bin = await mkdtemp(join(tmpdir(), 'imgcache-fake-apt-'));
  const log = join(bin, 'apt.log');
  await symlink('/bin/sh', join(bin, 'sh'));
  await writeFile(
    join(bin, 'apt-get'),
    `#!/bin/sh
echo "$*" >> "${log}"
case "$1" in
  update) : > "${bin}/updated" ;;
  install) [ -f "${bin}/updated" ] || exit 100
    echo "#!/bin/sh" > "${bin}/chromium"; /bin/chmod +x "${bin}/chromium" ;;
esac
`,
  );
  await chmod(join(bin, 'apt-get'), 0o755);
  return { bin, log };
}

describe('scripts/ensure-chromium.mjs', () => {
  let bin: string | undefined;
  afterEach(async () => {
    if (bin) await rm(bin, { recursive: true, force: true });
    bin = undefined;
  });

  const run = (path: string) => promisify(execFile)(process.execPath, [SCRIPT], { env: { PATH: path }, timeout: 20_000 });

  it.skipIf(!isRoot)('as root with apt-get: installs chromium, updating the package lists when the first try fails, and says so', async () => {
    const fake = await fakeDebian();
    bin = fake.bin;
    const { stdout } = await run(fake.bin);
    expect((await readFile(fake.log, 'utf8')).trim().split('\n')).toEqual(['install -y chromium', 'update', 'install -y chromium']);
    expect(stdout).toContain('ensure-chromium: apt-get install -y chromium');
    expect(stdout).toContain('ensure-chromium: apt-get update');
    expect(stdout).toContain(`ensure-chromium: installed ${fake.bin}/chromium`);
    // Now present: nothing more is installed.
    const again = await run(fake.bin);
    expect(again.stdout.trim()).toBe(`ensure-chromium: using ${fake.bin}/chromium`);
    expect((await readFile(fake.log, 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  it('without apt-get: exits 0 and says the browser test will skip', async () => {
    const fake = await fakeDebian();
    bin = fake.bin;
    await rm(join(fake.bin, 'apt-get'));
    const { stdout } = await run(fake.bin);
    expect(stdout).toMatch(/no chromium on PATH and (no apt-get here|not root).*browser test will skip/);
  });
});
