import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox, runInTerminal, type Sandbox } from '../helpers/run-cli.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await createSandbox();
  for (const id of ['one', 'two']) await sandbox.run(['cache-image', id, '-'], { input: `bytes of ${id}` });
  await sandbox.run(['queue-image', 'q-1', 'q-2', 'q-3']);
});
afterEach(async () => {
  await sandbox.cleanup();
});

const counts = async () => ({
  cached: (await sandbox.json(['list-cached'])).cachedImages.length,
  queued: (await sandbox.json(['list-queued'])).queuedImages.length,
});

describe('delete-all-cached-images / delete-all-queued-images', () => {
  it.each(['delete-all-cached-images', 'delete-all-queued-images'])(
    '%s refuses without a terminal unless --force (exit 2, nothing deleted)',
    async (command) => {
      const refused = await sandbox.run([command]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /Refusing to delete all (cached|queued) images without confirmation: stdin is not a terminal\. Pass -f\/--force/,
      );
      expect(await counts()).toEqual({ cached: 2, queued: 3 });
    },
  );

  it('deletes everything with -f / --force and reports the count', async () => {
    expect(await sandbox.run(['delete-all-cached-images', '-f'])).toMatchObject({
      code: 0,
      stdout: 'Deleted 2 cached images.\n',
    });
    expect(await sandbox.json(['delete-all-queued-images', '--force'])).toEqual({ deleted: 3 });
    expect(await counts()).toEqual({ cached: 0, queued: 0 });
  });

  it('asks on a terminal and deletes on "y"', async () => {
    const { code, output } = await runInTerminal(['delete-all-cached-images'], sandbox.env, '[y/N]', 'y\r');
    expect(code).toBe(0);
    expect(output).toMatch(/Delete all 2 cached images \(\d+ B\) in .*\? \[y\/N\]/);
    expect(output).toContain('Deleted 2 cached images.');
    expect(await counts()).toEqual({ cached: 0, queued: 3 });
  });

  it('asks on a terminal and keeps everything on an empty answer', async () => {
    const { code, output } = await runInTerminal(['delete-all-queued-images'], sandbox.env, '[y/N]', '\r');
    expect(code).toBe(0);
    expect(output).toContain('Delete all 3 queued images');
    expect(output).toContain('Not deleting any queued images.');
    expect(await counts()).toEqual({ cached: 2, queued: 3 });
  });

  it('asks on a terminal and keeps everything on "n"', async () => {
    const { code, output } = await runInTerminal(['delete-all-cached-images'], sandbox.env, '[y/N]', 'n\r');
    expect(code).toBe(0);
    expect(output).toContain('Not deleting any cached images.');
    expect(await counts()).toEqual({ cached: 2, queued: 3 });
  });
});
