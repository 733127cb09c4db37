import { spawnSync } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, createSandbox, runInTerminal, type Sandbox } from '../helpers/run-cli.js';

const REPO = join(dirname(BIN), '..', '..', '..');

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

describe('demo', () => {
  it('leaves nothing in invalid/, however often it runs', async () => {
    for (let run = 0; run < 2; run++) {
      const result = await sandbox.run(['demo']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('refused a corrupt download');
      expect(await readdir(join(sandbox.dir, 'invalid'))).toEqual([]);
    }
  });

  it('names its next commands in a form that runs from here: node <script> when imgcache is not on PATH', async () => {
    // The binary itself: what it names depends on the script a process was started with.
    const result = await sandbox.runBin(['demo'], { cwd: REPO, env: { PATH: dirname(process.execPath) } });
    expect(result.code, result.stderr).toBe(0);
    const script = relative(REPO, BIN);
    // Before: without --dir, so they acted on whatever directory the next shell defaulted to.
    const cli = `node ${script} --dir ${sandbox.dir}`;
    expect(result.stdout).toContain(`Next: ${cli} list-cached, ${cli} stats, ${cli} verify.`);
    expect(result.stdout).not.toMatch(/Next: imgcache /);
  });

  it('names them as imgcache when that name on PATH is this CLI', async () => {
    const bin = join(sandbox.root, 'bin');
    await mkdir(bin);
    await symlink(BIN, join(bin, 'imgcache'));
    const result = await sandbox.runBin(['demo'], { env: { PATH: `${bin}:${dirname(process.execPath)}` } });
    expect(result.code, result.stderr).toBe(0);
    const cli = `imgcache --dir ${sandbox.dir}`;
    expect(result.stdout).toContain(`Next: ${cli} list-cached, ${cli} stats, ${cli} verify.`);
  });
});

describe('demo next commands', () => {
  it('quote a directory the shell would split, and act on the demo directory when run', async () => {
    const dir = join(sandbox.root, "it's a dir");
    const result = await sandbox.runBin(['--dir', dir, 'demo'], {
      cwd: REPO,
      env: { PATH: dirname(process.execPath) },
    });
    expect(result.code, result.stderr).toBe(0);
    const next = /Next: (.*) list-cached,/.exec(result.stdout)![1]!;
    expect(next).toMatch(/ --dir '.*it'\\''s a dir'$/);
    const listed = spawnSync('sh', ['-c', `${next} --json list-cached`], {
      cwd: REPO,
      encoding: 'utf8',
      env: { PATH: dirname(process.execPath) },
    });
    expect(listed.status, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).cachedImages.length).toBeGreaterThan(0);
  });
});

describe('help texts', () => {
  it('prefetch --help quotes $TOKEN so the shell expands it, and shows no "(default: {})"', async () => {
    const help = await sandbox.run(['prefetch', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`-H "X-Auth-Token: $TOKEN"`);
    expect(help.stdout).not.toContain(`'X-Auth-Token: $TOKEN'`);
    expect(help.stdout).not.toContain('(default: {})');
  });

  it('no command shows an empty object or list as a default, or a $VARIABLE inside single quotes', async () => {
    const top = await sandbox.run(['--help']);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]+)\b/gm)]
      .map((match) => match[1]!)
      .filter((name) => name !== 'help');
    expect(commands.length).toBeGreaterThan(10);
    for (const command of commands) {
      const help = await sandbox.run([command, '--help']);
      expect(help.stdout, command).not.toMatch(/\(default: (\{\}|\[\])\)/);
      expect(help.stdout, command).not.toMatch(/'[^'\n]*\$[A-Za-z_][^'\n]*'/);
    }
  });
});

describe('delete-all confirmation wording', () => {
  it.each([
    ['delete-all-queued-images', 'queued'],
    ['delete-all-cached-images', 'cached'],
  ])('%s asks about "the 1 %s image", not "all 1 … images"', async (command, what) => {
    if (what === 'queued') await sandbox.run(['queue-image', 'only']);
    else await sandbox.run(['cache-image', 'only', '-'], { input: 'bytes' });
    const { code, output } = await runInTerminal([command], sandbox.env, '[y/N]', 'y\r');
    expect(code).toBe(0);
    expect(output).toContain(`Delete the 1 ${what} image`);
    expect(output).not.toContain('all 1');
    expect(output).toContain(`Deleted 1 ${what} image.`);
  });
});

describe('cache-image of empty input', () => {
  it('refuses an empty stdin (exit 1, nothing cached, nothing left behind) unless --allow-empty', async () => {
    const refused = await sandbox.run(['cache-image', 'empty', '-'], { input: '' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Refusing to cache image empty: stdin was empty (0 bytes)');
    expect(refused.stderr).toContain('--allow-empty');
    expect((await sandbox.json(['list-cached'])).cachedImages).toEqual([]);
    for (const sub of ['incomplete', 'invalid'])
      expect(await readdir(join(sandbox.dir, sub)).catch(() => [])).toEqual([]);

    const allowed = await sandbox.json(['cache-image', 'empty', '-', '--allow-empty'], { input: '' });
    expect(allowed).toMatchObject({ imageId: 'empty', cached: true, size: 0 });
  });

  it('refuses an empty file the same way', async () => {
    const file = join(sandbox.root, 'empty.img');
    await writeFile(file, '');
    const refused = await sandbox.run(['cache-image', 'empty-file', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${file} is empty (0 bytes)`);
    expect((await sandbox.json(['list-cached'])).cachedImages).toEqual([]);
  });

  it('still caches a non-empty stdin whole', async () => {
    const cached = await sandbox.json(['cache-image', 'small', '-'], { input: 'x'.repeat(70_000) });
    expect(cached).toMatchObject({ imageId: 'small', cached: true, size: 70_000 });
  });
});
