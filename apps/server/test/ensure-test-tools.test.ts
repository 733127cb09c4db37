import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../scripts/ensure-test-tools.mjs', import.meta.url));
const isRoot = process.getuid?.() === 0;

/**
 * A PATH with only `sh` and a fake `apt-get` that logs its arguments: `install` fails until
 * `update` has run (an empty package list), then puts the commands of the packages it was
 * asked for (`chromium`, `nginx` for nginx-light) next to itself.
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
    for p in "$@"; do
      case "$p" in chromium) c=chromium ;; nginx-light) c=nginx ;; *) continue ;; esac
      echo "#!/bin/sh" > "${bin}/$c"; /bin/chmod +x "${bin}/$c"
    done ;;
esac
`,
  );
  await chmod(join(bin, 'apt-get'), 0o755);
  return { bin, log };
}

describe('scripts/ensure-test-tools.mjs', () => {
  let bin: string | undefined;
  afterEach(async () => {
    if (bin) await rm(bin, { recursive: true, force: true });
    bin = undefined;
  });

  const run = (path: string) =>
    promisify(execFile)(process.execPath, [SCRIPT], { env: { PATH: path }, timeout: 20_000 });

  it.skipIf(!isRoot)(
    'as root with apt-get: installs what is missing in one go, updating the package lists when the first try fails, and says so',
    async () => {
      const fake = await fakeDebian();
      bin = fake.bin;
      const { stdout } = await run(fake.bin);
      const install = 'install -y --no-install-recommends chromium nginx-light';
      expect((await readFile(fake.log, 'utf8')).trim().split('\n')).toEqual([install, 'update', install]);
      expect(stdout).toContain(`ensure-test-tools: apt-get ${install}`);
      expect(stdout).toContain('ensure-test-tools: apt-get update');
      expect(stdout).toContain(`ensure-test-tools: installed ${fake.bin}/chromium`);
      expect(stdout).toContain(`ensure-test-tools: installed ${fake.bin}/nginx`);
      // Now present: nothing more is installed.
      const again = await run(fake.bin);
      expect(again.stdout.trim().split('\n')).toEqual([
        `ensure-test-tools: using ${fake.bin}/chromium`,
        `ensure-test-tools: using ${fake.bin}/nginx`,
      ]);
      expect((await readFile(fake.log, 'utf8')).trim().split('\n')).toHaveLength(3);
    },
  );

  it.skipIf(!isRoot)('installs only the missing program', async () => {
    const fake = await fakeDebian();
    bin = fake.bin;
    await writeFile(join(fake.bin, 'updated'), '');
    await writeFile(join(fake.bin, 'chromium'), '#!/bin/sh\n');
    await chmod(join(fake.bin, 'chromium'), 0o755);
    const { stdout } = await run(fake.bin);
    expect((await readFile(fake.log, 'utf8')).trim().split('\n')).toEqual([
      'install -y --no-install-recommends nginx-light',
    ]);
    expect(stdout).toContain(`ensure-test-tools: installed ${fake.bin}/nginx`);
  });

  it('without apt-get: exits 0 and says the browser test will skip', async () => {
    const fake = await fakeDebian();
    bin = fake.bin;
    await rm(join(fake.bin, 'apt-get'));
    const { stdout } = await run(fake.bin);
    expect(stdout).toMatch(
      /no chromium, nginx on PATH and (no apt-get here|not root).*the dashboard browser test and the deploy\/nginx offload test will skip/,
    );
  });
});
